using System.Globalization;
using System.Text;
using System.Text.Json;

namespace RhaiiGke.Engine.Inference;

/// <summary>Writes benchmark results as vLLM-compatible JSON (its key names) and as CSV.</summary>
public static class BenchmarkExport
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    private static string PKey(double p) => p.ToString("0.###", Inv);

    /// <summary>The flat vLLM summary keys and values of one result, in vLLM's order, plus RhaiiGke's extras.</summary>
    public static List<KeyValuePair<string, object?>> Flatten(InferenceBenchmarkResult r)
    {
        var d = new List<KeyValuePair<string, object?>>();
        void Add(string k, object? v) => d.Add(new(k, v));
        Add("date", r.Date.ToString("yyyyMMdd-HHmmss", Inv));
        Add("backend", r.Backend);
        Add("label", r.Label);
        Add("model_id", r.Model);
        Add("tokenizer_id", r.Model);
        Add("base_url", r.BaseUrl);
        Add("profile", r.Profile.ToString());
        Add("stage", r.Stage);
        Add("num_prompts", r.NumPrompts);
        Add("request_rate", double.IsInfinity(r.RequestRate) ? "inf" : r.RequestRate);
        Add("burstiness", double.IsInfinity(r.Burstiness) ? "inf" : r.Burstiness);
        Add("max_concurrency", r.MaxConcurrency);
        Add("streaming", r.Streaming);
        Add("duration", r.Duration);
        Add("completed", r.Completed);
        Add("failed", r.Failed);
        Add("total_input_tokens", r.TotalInputTokens);
        Add("total_output_tokens", r.TotalOutputTokens);
        Add("request_throughput", r.RequestThroughput);
        Add("request_goodput", r.RequestGoodput);
        Add("output_throughput", r.OutputThroughput);
        Add("total_token_throughput", r.TotalTokenThroughput);
        Add("max_output_tokens_per_s", r.MaxOutputTokensPerS);
        Add("max_concurrent_requests", r.MaxConcurrentRequests);
        foreach (var s in new[] { r.Ttft, r.Tpot, r.Itl, r.E2el, r.Ntpot })
        {
            Add($"mean_{s.Metric}_ms", s.Mean);
            Add($"median_{s.Metric}_ms", s.Median);
            Add($"std_{s.Metric}_ms", s.Std);
            foreach (var p in s.Percentiles) Add($"p{PKey(p.Percentile)}_{s.Metric}_ms", p.Value);
        }
        Add("achieved_concurrency", r.AchievedConcurrency);
        Add("goodput_percent", r.GoodputPercent);
        Add("meets_slo", r.MeetsSlo);
        Add("sweep_best", r.SweepBest);
        Add("total_cached_tokens", r.TotalCachedTokens);
        Add("cached_token_ratio", r.CachedTokenRatio);
        Add("mean_first_byte_ms", r.FirstByte.Mean);
        Add("mean_scheduling_lag_ms", r.SchedulingLag.Mean);
        Add("p99_scheduling_lag_ms", r.SchedulingLag.P99 ?? double.NaN);
        Add("max_scheduling_lag_ms", r.SchedulingLag.Max);
        Add("mean_client_queue_time_ms", r.QueueTime.Mean);
        return d;
    }

    /// <summary>vLLM's result JSON: the summary keys, goodput SLOs, errors and metadata; with -Detailed also vLLM's per-request arrays (seconds).</summary>
    public static string ToJson(InferenceBenchmarkResult r)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            foreach (var (k, v) in Flatten(r)) WriteValue(w, k, v);
            w.WriteStartObject("goodput_slo_ms");
            foreach (var (k, v) in r.Slo) w.WriteNumber(k.ToLowerInvariant(), v);
            w.WriteEndObject();
            w.WriteStartObject("errors_by_type");
            foreach (var (k, v) in r.ErrorsByType) w.WriteNumber(k, v);
            w.WriteEndObject();
            w.WriteStartObject("requests_per_pod");
            foreach (var (k, v) in r.Pods) w.WriteNumber(k, v);
            w.WriteEndObject();
            foreach (var (k, v) in r.Metadata) w.WriteString(k, v);
            w.WriteStartArray("warnings");
            foreach (var x in r.Warnings) w.WriteStringValue(x);
            w.WriteEndArray();
            if (r.Requests is { } reqs)
            {
                void Arr(string name, IEnumerable<double?> values)
                {
                    w.WriteStartArray(name);
                    foreach (var v in values) { if (v is { } x) w.WriteNumberValue(x); else w.WriteNullValue(); }
                    w.WriteEndArray();
                }
                Arr("input_lens", reqs.Select(q => (double?)q.PromptTokens));
                Arr("output_lens", reqs.Select(q => (double?)q.OutputTokens));
                Arr("ttfts", reqs.Select(q => q.TtftMs / 1000));
                Arr("latencies", reqs.Select(q => (double?)q.LatencyMs / 1000));
                Arr("start_times", reqs.Select(q => (double?)q.StartMs / 1000));
                Arr("queue_times", reqs.Select(q => (double?)q.QueueTimeMs / 1000));
                w.WriteStartArray("itls");
                foreach (var q in reqs)
                {
                    w.WriteStartArray();
                    foreach (var g in q.ItlsMs) w.WriteNumberValue(g / 1000);
                    w.WriteEndArray();
                }
                w.WriteEndArray();
                w.WriteStartArray("generated_texts");
                foreach (var q in reqs) w.WriteStringValue(q.GeneratedText);
                w.WriteEndArray();
                w.WriteStartArray("errors");
                foreach (var q in reqs) w.WriteStringValue(q.Error);
                w.WriteEndArray();
            }
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    private static void WriteValue(Utf8JsonWriter w, string k, object? v)
    {
        switch (v)
        {
            case null: w.WriteNull(k); break;
            case string s: w.WriteString(k, s); break;
            case bool b: w.WriteBoolean(k, b); break;
            case int i: w.WriteNumber(k, i); break;
            case long l: w.WriteNumber(k, l); break;
            case double x when double.IsFinite(x): w.WriteNumber(k, x); break;
            case double x: w.WriteString(k, x > 0 ? "inf" : double.IsNaN(x) ? "nan" : "-inf"); break;
            default: w.WriteString(k, Convert.ToString(v, Inv)); break;
        }
    }

    /// <summary>CSV with one row per result and the flat keys as columns (the union over all results).</summary>
    public static string ToCsv(IEnumerable<InferenceBenchmarkResult> results)
    {
        var rows = results.Select(Flatten).ToList();
        var cols = new List<string>();
        foreach (var r in rows) foreach (var (k, _) in r) if (!cols.Contains(k)) cols.Add(k);
        var sb = new StringBuilder();
        sb.AppendLine(string.Join(",", cols));
        foreach (var r in rows)
        {
            var map = r.ToDictionary(x => x.Key, x => x.Value);
            sb.AppendLine(string.Join(",", cols.Select(c => Cell(map.GetValueOrDefault(c)))));
        }
        return sb.ToString();
    }

    private static string Cell(object? v)
    {
        var s = v switch
        {
            null => "",
            double d when double.IsPositiveInfinity(d) => "inf",
            double d => d.ToString("R", Inv),
            bool b => b ? "true" : "false",
            IFormattable f => f.ToString(null, Inv),
            _ => v.ToString() ?? "",
        };
        return s.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + s.Replace("\"", "\"\"") + "\"" : s;
    }

    /// <summary>vLLM's default file name: {label}-{rate}qps[-concurrency{N}]-{model}-{stage}-{timestamp}.json.</summary>
    public static string FileName(InferenceBenchmarkResult r)
    {
        var rate = double.IsInfinity(r.RequestRate) ? "inf" : r.RequestRate.ToString("0.###", Inv);
        var model = r.Model.Split('/')[^1];
        var conc = r.MaxConcurrency is { } c ? $"-concurrency{c}" : "";
        var name = $"{r.Label}-{rate}qps{conc}-{model}-{r.Stage}-{r.Date.ToString("yyyyMMdd-HHmmss", Inv)}.json";
        foreach (var ch in Path.GetInvalidFileNameChars()) name = name.Replace(ch, '_');
        return name;
    }
}
