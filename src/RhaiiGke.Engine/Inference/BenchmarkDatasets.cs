using System.Text.Json;

namespace RhaiiGke.Engine.Inference;

/// <summary>Synthetic and file datasets, generated the way vLLM's random and prefix_repetition datasets are.</summary>
internal static class BenchmarkDatasets
{
    /// <summary>At most this many distinct prompts are kept in memory; longer runs reuse them in order.</summary>
    public const int MaxDistinct = 20_000;

    public static List<BenchPrompt> Build(InferenceBenchmarkSpec spec, int count)
    {
        var distinct = Math.Clamp(count, 1, MaxDistinct);
        var rng = new Random(spec.Seed);
        return spec.Dataset switch
        {
            InferenceDatasetKind.Random => RandomPrompts(rng, distinct, spec.InputTokens, spec.OutputTokens, spec.RangeRatio, spec.PrefixTokens),
            InferenceDatasetKind.SharedPrefix => SharedPrefix(rng, distinct, Math.Max(1, spec.NumPrefixes), spec.PrefixTokens > 0 ? spec.PrefixTokens : 256,
                spec.InputTokens, spec.OutputTokens),
            InferenceDatasetKind.File => FromFile(spec.DatasetPath, spec.OutputTokens, distinct, rng),
            _ => throw new ArgumentOutOfRangeException(nameof(spec)),
        };
    }

    private static int Vary(Random rng, int n, double ratio)
    {
        if (ratio <= 0) return n;
        var lo = (int)Math.Floor(n * (1 - ratio));
        var hi = (int)Math.Ceiling(n * (1 + ratio));
        return Math.Max(1, rng.Next(lo, hi + 1));
    }

    /// <summary>vLLM random: input/output lengths uniform in [n(1-r), n(1+r)], optional shared prefix of random words.</summary>
    public static List<BenchPrompt> RandomPrompts(Random rng, int count, int input, int output, double rangeRatio, int prefixTokens)
    {
        var prefix = prefixTokens > 0 ? InferenceText.Words(rng, prefixTokens) + " " : "";
        var list = new List<BenchPrompt>(count);
        for (var i = 0; i < count; i++)
        {
            var inLen = Vary(rng, input, rangeRatio);
            var outLen = Vary(rng, output, rangeRatio);
            list.Add(new BenchPrompt { Text = prefix + InferenceText.Words(rng, inLen), PromptTokens = prefixTokens + inLen, OutputTokens = outLen });
        }
        return list;
    }

    /// <summary>vLLM prefix_repetition: <paramref name="groups"/> random prefixes, each followed by unique suffixes, shuffled.</summary>
    public static List<BenchPrompt> SharedPrefix(Random rng, int count, int groups, int prefixTokens, int suffixTokens, int output)
    {
        var prefixes = Enumerable.Range(0, groups).Select(_ => InferenceText.Words(rng, prefixTokens)).ToArray();
        var list = new List<BenchPrompt>(count);
        for (var i = 0; i < count; i++)
        {
            var g = i % groups;
            list.Add(new BenchPrompt
            {
                Text = prefixes[g] + " " + InferenceText.Words(rng, suffixTokens),
                PromptTokens = prefixTokens + suffixTokens,
                OutputTokens = output,
                Group = g,
            });
        }
        // Fisher-Yates, seeded: the order repeats with the seed.
        for (var i = list.Count - 1; i > 0; i--)
        {
            var j = rng.Next(i + 1);
            (list[i], list[j]) = (list[j], list[i]);
        }
        return list;
    }

    /// <summary>
    /// JSONL: one object a line with "prompt" (string), or "messages" (chat array), or ShareGPT
    /// "conversations" ([{from, value}], first human turn is the prompt, the next gpt turn sets the output
    /// length); optional "output_tokens"/"max_tokens". A JSON array file is read the same way.
    /// </summary>
    public static List<BenchPrompt> FromFile(string? path, int defaultOutput, int max, Random rng)
    {
        if (string.IsNullOrWhiteSpace(path) || !File.Exists(path))
            throw new RhaiiException("DatasetNotFound", RhaiiErrorCategory.ObjectNotFound, $"Dataset file '{path}' was not found.",
                "Give -DatasetPath a JSONL file with one {\"prompt\": ...}, {\"messages\": [...]} or ShareGPT {\"conversations\": [...]} object a line.", path);
        var list = new List<BenchPrompt>();
        var lineNo = 0;
        IEnumerable<JsonElement> Items()
        {
            var text = File.ReadAllText(path);
            if (text.TrimStart().StartsWith('['))
            {
                JsonElement[] items;
                try
                {
                    using var doc = JsonDocument.Parse(text); // MaxDepth 64: a deeply nested file is an error, not a stack overflow
                    items = doc.RootElement.ValueKind == JsonValueKind.Array ? doc.RootElement.EnumerateArray().Select(e => e.Clone()).ToArray() : [];
                }
                catch (JsonException ex)
                {
                    throw new RhaiiException("InvalidDatasetFile", RhaiiErrorCategory.InvalidData, $"{path} is not a JSON array of prompts: {ex.Message}",
                        "Give -DatasetPath a JSON array or a JSONL file with one object a line.", path);
                }
                foreach (var e in items) { lineNo++; yield return e; }
                yield break;
            }
            foreach (var line in text.Split('\n'))
            {
                lineNo++;
                if (string.IsNullOrWhiteSpace(line)) continue;
                JsonElement e;
                try { using var doc = JsonDocument.Parse(line); e = doc.RootElement.Clone(); }
                catch (JsonException ex)
                {
                    throw new RhaiiException("InvalidDatasetLine", RhaiiErrorCategory.InvalidData, $"{path} line {lineNo} is not JSON: {ex.Message}",
                        "Each line must be one JSON object.", path);
                }
                yield return e;
            }
        }
        foreach (var e in Items())
        {
            if (list.Count >= max) break;
            if (e.ValueKind != JsonValueKind.Object) continue;
            int? output = e.TryGetProperty("output_tokens", out var o) && o.TryGetInt32(out var ov) ? ov
                : e.TryGetProperty("max_tokens", out var m) && m.TryGetInt32(out var mv) ? mv : null;
            if (e.TryGetProperty("prompt", out var p) && p.ValueKind == JsonValueKind.String)
            {
                var t = p.GetString()!;
                list.Add(new BenchPrompt { Text = t, PromptTokens = InferenceText.CountTokens(t), OutputTokens = output ?? defaultOutput });
            }
            else if (e.TryGetProperty("messages", out var msgs) && msgs.ValueKind == JsonValueKind.Array)
            {
                var text = string.Join("\n", msgs.EnumerateArray().Where(x => x.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String)
                    .Select(x => x.GetProperty("content").GetString()));
                list.Add(new BenchPrompt { Text = text, MessagesJson = msgs.GetRawText(), PromptTokens = InferenceText.CountTokens(text), OutputTokens = output ?? defaultOutput });
            }
            else if (e.TryGetProperty("conversations", out var conv) && conv.ValueKind == JsonValueKind.Array)
            {
                var turns = conv.EnumerateArray().ToList();
                var human = turns.FindIndex(t => t.TryGetProperty("from", out var f) && f.GetString() is "human" or "user");
                if (human < 0 || !turns[human].TryGetProperty("value", out var hv)) continue;
                var prompt = hv.GetString() ?? "";
                var reply = human + 1 < turns.Count && turns[human + 1].TryGetProperty("value", out var gv) ? gv.GetString() : null;
                var outLen = output ?? (reply is null ? defaultOutput : Math.Max(4, InferenceText.CountTokens(reply)));
                list.Add(new BenchPrompt { Text = prompt, PromptTokens = InferenceText.CountTokens(prompt), OutputTokens = outLen });
            }
        }
        if (list.Count == 0)
            throw new RhaiiException("EmptyDataset", RhaiiErrorCategory.InvalidData, $"No usable prompt in '{path}'.",
                "Lines need a \"prompt\" string, a \"messages\" array or ShareGPT \"conversations\".", path);
        return list;
    }
}

/// <summary>When each request of an open-loop stage is sent, in seconds from the stage start.</summary>
internal static class ArrivalSchedule
{
    /// <summary>
    /// vLLM's schedule: gaps drawn from gamma(shape = burstiness, scale = 1 / (rate × burstiness)),
    /// accumulated, then rescaled so that the last request goes out at exactly count / rate.
    /// With <paramref name="constant"/> the gaps are all 1 / rate.
    /// </summary>
    public static double[] Offsets(int count, double rate, double burstiness, bool constant, int seed)
    {
        if (rate <= 0 || double.IsInfinity(rate)) return new double[count];
        var offsets = new double[count];
        if (constant || double.IsInfinity(burstiness))
        {
            for (var i = 0; i < count; i++) offsets[i] = (i + 1) / rate;
            return offsets;
        }
        var rng = new Random(seed);
        var scale = 1.0 / (rate * burstiness);
        double t = 0;
        for (var i = 0; i < count; i++) { t += Gamma(rng, burstiness) * scale; offsets[i] = t; }
        if (count > 0 && offsets[^1] > 0)
        {
            var factor = count / rate / offsets[^1];
            for (var i = 0; i < count; i++) offsets[i] *= factor;
        }
        return offsets;
    }

    /// <summary>Marsaglia-Tsang gamma sampler (shape &lt; 1 by the boost U^(1/shape)).</summary>
    public static double Gamma(Random rng, double shape)
    {
        if (shape < 1) return Gamma(rng, shape + 1) * Math.Pow(rng.NextDouble(), 1 / shape);
        var d = shape - 1.0 / 3;
        var c = 1 / Math.Sqrt(9 * d);
        while (true)
        {
            double x, v;
            do { x = Normal(rng); v = 1 + c * x; } while (v <= 0);
            v = v * v * v;
            var u = rng.NextDouble();
            if (u < 1 - 0.0331 * x * x * x * x) return d * v;
            if (Math.Log(u) < 0.5 * x * x + d * (1 - v + Math.Log(v))) return d * v;
        }
    }

    private static double Normal(Random rng)
    {
        var u1 = 1.0 - rng.NextDouble();
        var u2 = rng.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
