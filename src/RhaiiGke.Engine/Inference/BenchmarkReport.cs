using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;

namespace RhaiiGke.Engine.Inference;

/// <summary>
/// A self-contained HTML report: the numbers as tables (readable without scripts) and charts drawn as
/// inline SVG by a small script from data embedded in the page. No CDN, no external file.
/// </summary>
public static class BenchmarkReport
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Charts the page draws for these results (the report test checks the browser drew them all).</summary>
    public static int ChartCount(IReadOnlyList<InferenceBenchmarkResult> results) =>
        (results.Any(r => r.Ttft.Count > 0) ? 1 : 0) + (results.Any(r => r.Itl.Count > 0 || r.Tpot.Count > 0) ? 1 : 0)
        + (results.Any(r => r.E2el.Count > 0) ? 2 : 0) + 2 + (results.Any(r => r.TtftSampleMs.Length > 0) ? 1 : 0);

    public static string Render(IReadOnlyList<InferenceBenchmarkResult> results, string title)
    {
        if (results.Count == 0)
            throw new RhaiiException("NothingToReport", RhaiiErrorCategory.InvalidArgument, "The report needs at least one benchmark result.",
                "Pipe the output of Invoke-InferenceBenchmark into Export-InferenceBenchmarkReport.");
        var data = results.Select(r => new Dictionary<string, object?>
        {
            ["label"] = r.Label,
            ["stage"] = r.Stage,
            ["load"] = F(r.Load),
            ["loadKind"] = double.IsInfinity(r.RequestRate) ? "concurrency" : "rate",
            ["reqps"] = F(r.RequestThroughput),
            ["outtps"] = F(r.OutputThroughput),
            ["goodput"] = r.RequestGoodput is { } gp ? F(gp) : null,
            ["ttft"] = Pcts(r.Ttft),
            ["itl"] = Pcts(r.Itl),
            ["tpot"] = Pcts(r.Tpot),
            ["e2el"] = Pcts(r.E2el),
            ["ttftSample"] = Thin(r.TtftSampleMs, 2000),
        }).ToList();
        var json = JsonSerializer.Serialize(new { charts = ChartCount(results), stages = data });
        var sb = new StringBuilder(64 * 1024);
        string H(string s) => WebUtility.HtmlEncode(s);
        string N(double v, string f = "0.##") => double.IsFinite(v) ? v.ToString(f, Inv) : "∞";
        string P(double? v, string f) => v is { } x && double.IsFinite(x) ? x.ToString(f, Inv) : "–";
        sb.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
        sb.Append("<title>").Append(H(title)).Append("</title><style>").Append(Css).Append("</style></head><body>\n");
        sb.Append("<header><h1>").Append(H(title)).Append("</h1><p>")
          .Append(H($"{results.Select(r => r.BaseUrl).Distinct().Count()} endpoint(s): {string.Join(", ", results.Select(r => r.BaseUrl).Distinct())} · model {string.Join(", ", results.Select(r => r.Model).Distinct())} · {results.Count} stage(s) · {results.Sum(r => r.Completed):N0} requests completed, {results.Sum(r => r.Failed):N0} failed · generated {DateTimeOffset.Now:yyyy-MM-dd HH:mm zzz}"))
          .Append("</p></header>\n");
        sb.Append("<section class=\"charts\" id=\"charts\"><noscript>Charts need JavaScript; the tables below hold every number.</noscript></section>\n");
        sb.Append("<section><h2>Summary</h2><table><thead><tr><th>Label</th><th>Stage</th><th>Load</th><th>OK</th><th>Failed</th><th>Duration s</th><th>Req/s</th><th>Out tok/s</th><th>Goodput req/s</th><th>TTFT p50</th><th>TTFT p99</th><th>TPOT p50</th><th>ITL p50</th><th>ITL p99</th><th>E2EL p50</th><th>E2EL p99</th><th>Achieved conc.</th><th>Cached %</th></tr></thead><tbody>\n");
        foreach (var r in results)
        {
            sb.Append("<tr").Append(r.SweepBest ? " class=\"best\"" : "").Append("><td>").Append(H(r.Label)).Append("</td><td>").Append(H(r.Stage)).Append(r.SweepBest ? " ★" : "").Append("</td><td>")
              .Append(N(r.Load)).Append(double.IsInfinity(r.RequestRate) ? " conc." : " req/s").Append("</td><td>").Append(r.Completed).Append("</td><td>").Append(r.Failed).Append("</td><td>")
              .Append(N(r.Duration)).Append("</td><td>").Append(N(r.RequestThroughput)).Append("</td><td>").Append(N(r.OutputThroughput, "0.#")).Append("</td><td>")
              .Append(r.RequestGoodput is { } g ? N(g) : "–").Append("</td><td>").Append(P(r.Ttft.P50, "0.#")).Append("</td><td>").Append(P(r.Ttft.P99, "0.#")).Append("</td><td>")
              .Append(P(r.Tpot.P50, "0.##")).Append("</td><td>").Append(P(r.Itl.P50, "0.##")).Append("</td><td>").Append(P(r.Itl.P99, "0.##")).Append("</td><td>")
              .Append(P(r.E2el.P50, "0.#")).Append("</td><td>").Append(P(r.E2el.P99, "0.#")).Append("</td><td>").Append(N(r.AchievedConcurrency, "0.#")).Append("</td><td>")
              .Append(N(r.CachedTokenRatio * 100, "0.#")).Append("</td></tr>\n");
        }
        sb.Append("</tbody></table><p class=\"note\">Latencies in milliseconds, computed as vLLM does: TTFT to the first content chunk, ITL between content chunks, TPOT = (E2EL − TTFT)/(tokens − 1), E2EL to the last chunk; percentiles by linear interpolation.</p></section>\n");
        var errors = results.Where(r => r.ErrorsByType.Count > 0 || r.Warnings.Length > 0).ToList();
        if (errors.Count > 0)
        {
            sb.Append("<section><h2>Errors and warnings</h2><ul>");
            foreach (var r in errors)
            {
                foreach (var (k, v) in r.ErrorsByType) sb.Append("<li>").Append(H($"{r.Label}/{r.Stage}: {v} × {k}")).Append("</li>");
                foreach (var w in r.Warnings) sb.Append("<li>").Append(H($"{r.Label}/{r.Stage}: {w}")).Append("</li>");
            }
            sb.Append("</ul></section>\n");
        }
        sb.Append("<script type=\"application/json\" id=\"report-data\">").Append(json).Append("</script>\n");
        sb.Append("<script>").Append(Script).Append("</script>\n</body></html>\n");
        return sb.ToString();
    }

    private static Dictionary<string, double?> Pcts(InferenceLatencyStats s) => new()
    {
        ["n"] = s.Count, ["mean"] = F(s.Mean), ["p50"] = F(s.P50), ["p90"] = F(s.P90), ["p95"] = F(s.P95), ["p99"] = F(s.P99), ["max"] = F(s.Max),
    };

    private static double? F(double v) => double.IsFinite(v) ? v : null;
    private static double? F(double? v) => v is { } x && double.IsFinite(x) ? x : null;

    private static double[] Thin(IReadOnlyList<double> v, int max)
    {
        if (v.Count <= max) return v.Select(x => Math.Round(x, 3)).ToArray();
        var step = (double)v.Count / max;
        return Enumerable.Range(0, max).Select(i => Math.Round(v[(int)(i * step)], 3)).ToArray();
    }

    private const string Css = """
        body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1d2433;background:#fff}
        h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}header p{color:#5b6478;margin:0}
        .charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(460px,1fr));gap:18px;margin-top:18px}
        figure{margin:0;border:1px solid #e3e6ee;border-radius:8px;padding:10px 12px}figcaption{font-weight:600;font-size:14px;margin-bottom:4px}
        svg text{font-size:11px;fill:#4a5163}svg .axis line,svg .axis path{stroke:#9aa1b1}svg .grid line{stroke:#eef0f5}
        table{border-collapse:collapse;font-size:12.5px;width:100%}th,td{padding:4px 7px;border-bottom:1px solid #e8ebf2;text-align:right;white-space:nowrap}
        th:nth-child(-n+2),td:nth-child(-n+2){text-align:left}thead th{background:#f5f6fa}tr.best td{background:#eefaf0;font-weight:600}.note{color:#5b6478;font-size:12px}
        """;

    private const string Script = """
        (function(){
          var data = JSON.parse(document.getElementById('report-data').textContent);
          var stages = data.stages, host = document.getElementById('charts');
          var colors = ['#2f6fdf','#e4572e','#17a398','#f3a712','#8e44ad','#5c6b73','#c0392b','#27ae60'];
          var NS = 'http://www.w3.org/2000/svg', drawn = 0;
          function el(name, attrs, parent){ var e = document.createElementNS(NS, name); for (var k in attrs) e.setAttribute(k, attrs[k]); if (parent) parent.appendChild(e); return e; }
          function nice(max){ if (!(max > 0)) return 1; var p = Math.pow(10, Math.floor(Math.log10(max))), m = max / p; return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p; }
          function fmt(v){ return Math.abs(v) >= 1000 ? (v/1000).toFixed(v >= 10000 ? 0 : 1) + 'k' : (Math.round(v*100)/100).toString(); }
          function figure(title){ var f = document.createElement('figure'); var c = document.createElement('figcaption'); c.textContent = title; f.appendChild(c); host.appendChild(f); return f; }
          function frame(f, xMax, yMax, xLabel, yLabel){
            var W = 460, H = 260, L = 56, R = 14, T = 10, B = 40;
            var svg = el('svg', {viewBox: '0 0 ' + W + ' ' + H, width: '100%', 'class': 'chart', role: 'img'}, f);
            var sx = function(x){ return L + (W - L - R) * x / xMax; }, sy = function(y){ return H - B - (H - T - B) * y / yMax; };
            var g = el('g', {'class': 'grid'}, svg), ax = el('g', {'class': 'axis'}, svg);
            for (var i = 0; i <= 5; i++) {
              var yv = yMax * i / 5, y = sy(yv); el('line', {x1: L, x2: W - R, y1: y, y2: y}, g);
              el('text', {x: L - 6, y: y + 4, 'text-anchor': 'end'}, ax).textContent = fmt(yv);
              var xv = xMax * i / 5, x = sx(xv); el('line', {x1: x, x2: x, y1: H - B, y2: H - B + 4}, ax);
              el('text', {x: x, y: H - B + 16, 'text-anchor': 'middle'}, ax).textContent = fmt(xv);
            }
            el('path', {d: 'M' + L + ' ' + T + 'V' + (H - B) + 'H' + (W - R), fill: 'none'}, ax);
            el('text', {x: (L + W - R) / 2, y: H - 6, 'text-anchor': 'middle'}, ax).textContent = xLabel;
            el('text', {x: 12, y: (T + H - B) / 2, transform: 'rotate(-90 12 ' + ((T + H - B) / 2) + ')', 'text-anchor': 'middle'}, ax).textContent = yLabel;
            return {svg: svg, sx: sx, sy: sy, L: L, T: T};
          }
          function legend(fr, names){ names.forEach(function(n, i){ var y = fr.T + 12 + 14 * i; el('rect', {x: fr.L + 10, y: y - 8, width: 10, height: 10, fill: colors[i % colors.length]}, fr.svg); el('text', {x: fr.L + 25, y: y + 1}, fr.svg).textContent = n; }); }
          function lineChart(title, yLabel, series, xLabel){
            var pts = [].concat.apply([], series.map(function(s){ return s.points; }));
            if (!pts.length) return;
            var f = figure(title);
            var kind = stages[0].loadKind, xMax = nice(Math.max.apply(null, pts.map(function(p){ return p[0]; })) * 1.05), yMax = nice(Math.max.apply(null, pts.map(function(p){ return p[1]; })) * 1.1);
            var fr = frame(f, xMax, yMax, xLabel || (kind === 'rate' ? 'request rate (req/s)' : 'concurrency'), yLabel);
            series.forEach(function(s, i){
              var c = colors[i % colors.length], p = s.points.slice().sort(function(a, b){ return a[0] - b[0]; });
              el('path', {'class': 'series', d: p.map(function(q, j){ return (j ? 'L' : 'M') + fr.sx(q[0]).toFixed(1) + ' ' + fr.sy(q[1]).toFixed(1); }).join(''), fill: 'none', stroke: c, 'stroke-width': 2}, fr.svg);
              p.forEach(function(q){ var d = el('circle', {'class': 'point', cx: fr.sx(q[0]), cy: fr.sy(q[1]), r: 3.2, fill: c}, fr.svg); el('title', {}, d).textContent = s.name + ': ' + fmt(q[1]) + ' at ' + fmt(q[0]); });
            });
            legend(fr, series.map(function(s){ return s.name; }));
            drawn++;
          }
          function ok(p){ return p[0] != null && p[1] != null; }
          function labels(){ var seen = []; stages.forEach(function(s){ if (seen.indexOf(s.label) < 0) seen.push(s.label); }); return seen; }
          function series(metric, keys, names){
            var out = [], ls = labels();
            ls.forEach(function(l){ keys.forEach(function(k, i){
              var pts = stages.filter(function(s){ return s.label === l && s[metric] && s[metric].n > 0; }).map(function(s){ return [s.load, s[metric][k]]; }).filter(ok);
              if (pts.length) out.push({name: (ls.length > 1 ? l + ' ' : '') + names[i], points: pts});
            }); });
            return out;
          }
          function simple(key, name){ var ls = labels(); return ls.map(function(l){ return {name: (ls.length > 1 ? l + ' ' : '') + name, points: stages.filter(function(s){ return s.label === l && s[key] != null; }).map(function(s){ return [s.load, s[key]]; }).filter(ok)}; }).filter(function(s){ return s.points.length; }); }
          lineChart('Time to first token vs load', 'TTFT (ms)', series('ttft', ['p50', 'p90', 'p99'], ['p50', 'p90', 'p99']));
          lineChart('Inter-token latency and TPOT vs load', 'ms', series('itl', ['p50', 'p99'], ['ITL p50', 'ITL p99']).concat(series('tpot', ['p50'], ['TPOT p50'])));
          lineChart('End-to-end latency vs load', 'E2EL (ms)', series('e2el', ['p50', 'p90', 'p99'], ['p50', 'p90', 'p99']));
          lineChart('Request throughput vs load', 'requests/s', simple('reqps', 'req/s').concat(simple('goodput', 'goodput')));
          lineChart('Output token throughput vs load', 'tokens/s', simple('outtps', 'output tok/s'));
          lineChart('Latency vs throughput', 'E2EL p99 (ms)', labels().map(function(l){ return {name: l, points: stages.filter(function(s){ return s.label === l && s.e2el.n > 0; }).map(function(s){ return [s.reqps, s.e2el.p99]; }).filter(ok)}; }).filter(function(s){ return s.points.length; }), 'achieved requests/s');
          var withSample = stages.filter(function(s){ return s.ttftSample && s.ttftSample.length; });
          if (withSample.length) {
            var all = [].concat.apply([], withSample.map(function(s){ return s.ttftSample; })).sort(function(a, b){ return a - b; });
            var hi = all[Math.floor((all.length - 1) * 0.995)] || 1, bins = 30, w = hi / bins, f = figure('TTFT distribution (share of requests per bin)');
            var hists = withSample.map(function(s){ var h = new Array(bins).fill(0); s.ttftSample.forEach(function(v){ var b = Math.min(bins - 1, Math.floor(v / w)); h[b]++; }); return h.map(function(c){ return c / s.ttftSample.length * 100; }); });
            var yMax = nice(Math.max.apply(null, hists.map(function(h){ return Math.max.apply(null, h); })) * 1.1), fr = frame(f, hi, yMax, 'TTFT (ms)', '% of requests');
            hists.forEach(function(h, i){
              var c = colors[i % colors.length], d = '';
              h.forEach(function(v, b){ d += (b ? 'L' : 'M') + fr.sx(b * w).toFixed(1) + ' ' + fr.sy(v).toFixed(1) + 'L' + fr.sx((b + 1) * w).toFixed(1) + ' ' + fr.sy(v).toFixed(1); });
              el('path', {'class': 'series', d: d, fill: 'none', stroke: c, 'stroke-width': 1.6}, fr.svg);
            });
            legend(fr, withSample.map(function(s){ return (labels().length > 1 ? s.label + '/' : '') + s.stage; }).slice(0, 8));
            drawn++;
          }
          document.documentElement.setAttribute('data-charts-drawn', String(drawn));
        })();
        """;
}
