namespace RhaiiGke.Engine.Catalog;

/// <summary>Architecture facts needed to size a model: parameters and the KV-cache shape.</summary>
public sealed record ModelInfo(string Id, double ParametersBillions, int Layers, int KvHeads, int HeadDim, int AttentionHeads, int MaxContext);

/// <summary>A small table of models people serve on TPU; anything else is sized from -ParameterCount.</summary>
public static class ModelCatalog
{
    public static IReadOnlyList<ModelInfo> Known { get; } =
    [
        new("Qwen/Qwen2.5-0.5B-Instruct", 0.49, 24, 2, 64, 14, 32768),
        new("Qwen/Qwen2.5-1.5B-Instruct", 1.54, 28, 2, 128, 12, 32768),
        new("Qwen/Qwen2.5-3B-Instruct", 3.09, 36, 2, 128, 16, 32768),
        new("Qwen/Qwen2.5-7B-Instruct", 7.62, 28, 4, 128, 28, 32768),
        new("Qwen/Qwen2.5-14B-Instruct", 14.7, 48, 8, 128, 40, 32768),
        new("Qwen/Qwen2.5-32B-Instruct", 32.5, 64, 8, 128, 40, 32768),
        new("Qwen/Qwen2.5-72B-Instruct", 72.7, 80, 8, 128, 64, 32768),
        new("Qwen/Qwen3-8B", 8.19, 36, 8, 128, 32, 40960),
        new("meta-llama/Llama-3.2-1B-Instruct", 1.24, 16, 8, 64, 32, 131072),
        new("meta-llama/Llama-3.2-3B-Instruct", 3.21, 28, 8, 128, 24, 131072),
        new("meta-llama/Llama-3.1-8B-Instruct", 8.03, 32, 8, 128, 32, 131072),
        new("meta-llama/Llama-3.1-70B-Instruct", 70.6, 80, 8, 128, 64, 131072),
        new("mistralai/Mistral-7B-Instruct-v0.3", 7.25, 32, 8, 128, 32, 32768),
        new("google/gemma-2-9b-it", 9.24, 42, 8, 256, 16, 8192),
        new("google/gemma-2-27b-it", 27.2, 46, 16, 128, 32, 8192),
    ];

    /// <summary>
    /// Hugging Face organisations whose models are gated (the account must accept a licence, and the
    /// download needs its token): Meta's Llama, Google's Gemma and Mistral AI's repositories.
    /// </summary>
    private static readonly string[] GatedPrefixes = ["meta-llama/", "google/gemma", "mistralai/"];

    /// <summary>
    /// Whether a Hugging Face model is gated: true for the known gated organisations, false for the other
    /// models of the catalog (public), null when it is not known (it may be public, gated or private).
    /// </summary>
    public static bool? IsGated(string? model)
    {
        if (string.IsNullOrWhiteSpace(model)) return null;
        var m = model.Trim();
        if (m.StartsWith("hf://", StringComparison.OrdinalIgnoreCase)) m = m[5..];
        if (GatedPrefixes.Any(p => m.StartsWith(p, StringComparison.OrdinalIgnoreCase))) return true;
        return Find(m) is not null ? false : null;
    }

    /// <summary>Looks a model up by its id, an hf:// URI, or the part after the organisation.</summary>
    public static ModelInfo? Find(string? model)
    {
        if (string.IsNullOrWhiteSpace(model)) return null;
        var m = model.Trim();
        if (m.StartsWith("hf://", StringComparison.OrdinalIgnoreCase)) m = m[5..];
        return Known.FirstOrDefault(k => string.Equals(k.Id, m, StringComparison.OrdinalIgnoreCase))
            ?? Known.FirstOrDefault(k => string.Equals(k.Id[(k.Id.IndexOf('/') + 1)..], m, StringComparison.OrdinalIgnoreCase));
    }

    public static int BytesPerParameter(string dtype) => dtype.ToLowerInvariant() switch
    {
        "bfloat16" or "bf16" or "float16" or "fp16" or "half" or "auto" => 2,
        "float32" or "fp32" or "float" => 4,
        "int8" or "fp8" or "float8" => 1,
        "int4" => 1, // rounded up: packing overhead keeps it near one byte
        _ => throw new RhaiiException("UnknownDType", RhaiiErrorCategory.InvalidArgument,
            $"Unknown dtype '{dtype}'.", "Use bfloat16 (the TPU default), float32, int8 or fp8.", dtype),
    };
}
