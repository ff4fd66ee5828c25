namespace RhaiiGke.Engine.Inference;

/// <summary>
/// A weighted mix of served model names for one benchmark through a shared (model-routed) URL: which model each
/// request slot asks for, drawn by weight with a seeded generator so a run is repeatable, and how a misrouted
/// request shows (vLLM answers 404 "The model `x` does not exist." when a request reaches a server of another model).
/// </summary>
public sealed class MultiModelMix
{
    private MultiModelMix(string[] models, double[] weights) { Models = models; Weights = weights; }

    /// <summary>Model names, in ordinal order (a hashtable's order is not stable).</summary>
    public string[] Models { get; }
    public double[] Weights { get; }

    /// <summary>The mix of the spec, validated; null when the spec has none.</summary>
    public static MultiModelMix? From(InferenceBenchmarkSpec spec)
    {
        if (spec.ModelMix is not { Count: > 0 } mix) return null;
        var entries = mix.OrderBy(kv => kv.Key, StringComparer.Ordinal).ToList();
        foreach (var (name, weight) in entries)
        {
            if (string.IsNullOrWhiteSpace(name))
                throw new RhaiiException("InvalidModelMix", RhaiiErrorCategory.InvalidArgument, "A model name in the model mix is empty.",
                    "Use -ModelMix @{ 'Qwen/Qwen2.5-3B-Instruct' = 3; 'meta-llama/Llama-3.1-8B-Instruct' = 1 }.");
            if (!(weight > 0) || double.IsInfinity(weight))
                throw new RhaiiException("InvalidModelMix", RhaiiErrorCategory.InvalidArgument, $"The weight of model '{name}' must be a positive number, got {weight}.",
                    "Give each model a positive relative weight, e.g. -ModelMix @{ a = 3; b = 1 } sends three requests to a for each one to b.", name);
        }
        if (!string.IsNullOrWhiteSpace(spec.Model))
            throw new RhaiiException("ModelAndModelMix", RhaiiErrorCategory.InvalidArgument, "Both a model and a model mix were given; a run uses one or the other.",
                "Leave -Model out with -ModelMix (the mix names every model), or drop -ModelMix for a single-model run.", spec.Model);
        return new MultiModelMix(entries.Select(e => e.Key).ToArray(), entries.Select(e => e.Value).ToArray());
    }

    /// <summary>The model index of each of <paramref name="slots"/> request slots, drawn by weight.</summary>
    public int[] Assign(int slots, int seed)
    {
        var total = Weights.Sum();
        var rng = new Random(unchecked(seed * 7919 + 17));
        var result = new int[slots];
        for (var i = 0; i < slots; i++)
        {
            var roll = rng.NextDouble() * total;
            var m = 0;
            while (m < Weights.Length - 1 && roll >= Weights[m]) { roll -= Weights[m]; m++; }
            result[i] = m;
        }
        return result;
    }

    /// <summary>vLLM's answer for a model it does not serve: 404 NotFoundError "The model `x` does not exist."</summary>
    public static bool IsModelNotFound(int status, string? error) =>
        status == 404 && error is not null && (error.Contains("does not exist", StringComparison.Ordinal) || error.Contains("NotFoundError", StringComparison.Ordinal));
}
