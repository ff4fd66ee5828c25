using System.Globalization;
using System.Text;

namespace RhaiiGke.Engine.Inference;

/// <summary>Parses the Prometheus text exposition format (vLLM, the EPP) into typed samples and computes deltas between scrapes.</summary>
public static class PrometheusText
{
    public static List<InferenceMetricSample> Parse(string text, string endpoint = "", DateTimeOffset? timestamp = null)
    {
        var ts = timestamp ?? DateTimeOffset.Now;
        var types = new Dictionary<string, string>(StringComparer.Ordinal);
        var helps = new Dictionary<string, string>(StringComparer.Ordinal);
        var samples = new List<InferenceMetricSample>();
        var lineNo = 0;
        foreach (var raw in text.Split('\n'))
        {
            lineNo++;
            var line = raw.TrimEnd('\r').Trim();
            if (line.Length == 0) continue;
            if (line[0] == '#')
            {
                var parts = line.Split(' ', 4, StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length >= 3 && parts[1] == "TYPE") types[parts[2]] = parts.Length > 3 ? parts[3].Trim() : "untyped";
                else if (parts.Length >= 3 && parts[1] == "HELP") helps[parts[2]] = parts.Length > 3 ? Unescape(parts[3]) : "";
                continue;
            }
            var (name, labels, value) = ParseSample(line, lineNo);
            var family = FamilyOf(name, types);
            samples.Add(new InferenceMetricSample
            {
                Name = name,
                Family = family,
                Type = types.GetValueOrDefault(family, "untyped"),
                Labels = labels,
                Value = value,
                Endpoint = endpoint,
                Timestamp = ts,
                Help = helps.GetValueOrDefault(family, ""),
            });
        }
        return samples;
    }

    private static string FamilyOf(string name, Dictionary<string, string> types)
    {
        if (types.ContainsKey(name)) return name;
        foreach (var suffix in new[] { "_bucket", "_sum", "_count", "_created", "_total", "_info" })
        {
            if (!name.EndsWith(suffix, StringComparison.Ordinal)) continue;
            var b = name[..^suffix.Length];
            if (types.ContainsKey(b)) return b;
        }
        return name;
    }

    private static (string Name, Dictionary<string, string> Labels, double Value) ParseSample(string line, int lineNo)
    {
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        var i = 0;
        while (i < line.Length && line[i] != '{' && line[i] != ' ' && line[i] != '\t') i++;
        var name = line[..i];
        if (name.Length == 0) throw Bad(lineNo, "missing metric name");
        if (i < line.Length && line[i] == '{')
        {
            i++;
            while (true)
            {
                while (i < line.Length && (line[i] == ' ' || line[i] == ',')) i++;
                if (i >= line.Length) throw Bad(lineNo, "unterminated label set");
                if (line[i] == '}') { i++; break; }
                var eq = line.IndexOf('=', i);
                if (eq < 0) throw Bad(lineNo, "label without '='");
                var key = line[i..eq].Trim();
                i = eq + 1;
                if (i >= line.Length || line[i] != '"') throw Bad(lineNo, "label value must be quoted");
                i++;
                var sb = new StringBuilder();
                while (i < line.Length && line[i] != '"')
                {
                    if (line[i] == '\\' && i + 1 < line.Length)
                    {
                        i++;
                        sb.Append(line[i] switch { 'n' => '\n', '\\' => '\\', '"' => '"', var c => c });
                    }
                    else sb.Append(line[i]);
                    i++;
                }
                if (i >= line.Length) throw Bad(lineNo, "unterminated label value");
                i++;
                labels[key] = sb.ToString();
            }
        }
        var rest = line[i..].Trim().Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        if (rest.Length == 0) throw Bad(lineNo, "missing value");
        return (name, labels, ParseValue(rest[0], lineNo));
    }

    private static double ParseValue(string s, int lineNo) => s switch
    {
        "+Inf" or "Inf" => double.PositiveInfinity,
        "-Inf" => double.NegativeInfinity,
        "NaN" => double.NaN,
        _ => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : throw Bad(lineNo, $"'{s}' is not a number"),
    };

    private static string Unescape(string s) => s.Replace("\\n", "\n").Replace("\\\\", "\\");

    private static RhaiiException Bad(int line, string what) =>
        new("InvalidPrometheusText", RhaiiErrorCategory.InvalidData, $"Line {line} of the metrics is not Prometheus text: {what}.",
            "Point at a Prometheus /metrics endpoint (vLLM serves it on its API port, the EPP on its metrics port, usually 9090).");

    /// <summary>
    /// Each current sample with Delta (and Rate per second) against the same series in <paramref name="baseline"/>.
    /// Counters, histogram buckets/sums/counts that went down are treated as a restart: Delta is the new value.
    /// </summary>
    public static List<InferenceMetricSample> Delta(IReadOnlyList<InferenceMetricSample> current, IReadOnlyList<InferenceMetricSample> baseline)
    {
        var before = new Dictionary<string, InferenceMetricSample>(StringComparer.Ordinal);
        foreach (var b in baseline) before[b.Endpoint + "|" + b.Series] = b;
        var list = new List<InferenceMetricSample>(current.Count);
        foreach (var c in current)
        {
            if (!before.TryGetValue(c.Endpoint + "|" + c.Series, out var b)) { list.Add(c); continue; }
            var monotonic = c.Type is "counter" or "histogram" or "summary" && !c.Name.EndsWith("_created", StringComparison.Ordinal)
                && !(c.Type == "summary" && c.Labels.ContainsKey("quantile"));
            var delta = c.Value - b.Value;
            var reset = monotonic && delta < 0;
            if (reset) delta = c.Value;
            var secs = (c.Timestamp - b.Timestamp).TotalSeconds;
            list.Add(new InferenceMetricSample
            {
                Name = c.Name, Family = c.Family, Type = c.Type, Labels = c.Labels, Value = c.Value, Endpoint = c.Endpoint, Timestamp = c.Timestamp, Help = c.Help,
                Delta = delta, Rate = secs > 0 ? delta / secs : null, Reset = reset,
            });
        }
        return list;
    }

    /// <summary>Sum of a metric family's samples (optionally only those whose labels match), e.g. prefix-cache hits over all pods.</summary>
    public static double Sum(IEnumerable<InferenceMetricSample> samples, string name, Func<InferenceMetricSample, double>? select = null) =>
        samples.Where(s => s.Name == name || s.Name == name + "_total").Sum(select ?? (s => s.Value));
}

/// <summary>Scrapes /metrics endpoints.</summary>
public static class MetricsScraper
{
    /// <summary>Scrapes one URL. A URL without a path gets /metrics appended.</summary>
    public static async Task<List<InferenceMetricSample>> ScrapeAsync(string url, TimeSpan timeout, CancellationToken ct, System.Security.SecureString? apiKey = null, bool skipCertificateCheck = false,
        bool allowUnencryptedAuthentication = false, IReadOnlyList<(string Name, string Value)>? headers = null)
    {
        var u = new Uri(url);
        var path = u.AbsolutePath is "" or "/" ? "/metrics" : u.PathAndQuery;
        var target = new HttpTarget($"{u.Scheme}://{u.Authority}")
        {
            ApiKey = apiKey, SkipCertificateCheck = skipCertificateCheck, AllowUnencryptedAuthentication = allowUnencryptedAuthentication, Headers = headers ?? [],
        }.EnsureCredentialsProtected();
        SimpleResponse r;
        try { r = await InferenceHttp.GetAsync(target, path, timeout, ct).ConfigureAwait(false); }
        catch (RawHttpException ex)
        {
            throw new RhaiiException("MetricsUnreachable", RhaiiErrorCategory.ConnectionError, $"Cannot scrape {url}: {ex.Message}",
                "Check the URL; vLLM serves /metrics on its API port (8000), the EPP on its metrics port (9090). Use kubectl port-forward to reach a pod.", url, ex);
        }
        if (InferenceHttp.AuthFailure(r.Status, $"{u.Scheme}://{u.Authority}", $"GET {u.Scheme}://{u.Authority}{path}", apiKey is not null) is { } auth) throw auth;
        if (r.Status != 200)
            throw new RhaiiException("MetricsScrapeFailed", RhaiiErrorCategory.InvalidResult, $"GET {u.Scheme}://{u.Authority}{path} answered HTTP {r.Status}.",
                "Scrape the pods' /metrics directly; gateways usually do not route it.", url);
        return PrometheusText.Parse(r.Body, $"{u.Scheme}://{u.Authority}", DateTimeOffset.Now);
    }
}
