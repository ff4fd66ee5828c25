using System.Text.RegularExpressions;

namespace RhaiiGke.Sandbox.Vllm;

/// <summary>
/// The vLLM version an image runs, for the simulator's /version ({"version": "..."} as vLLM's API server answers).
/// Upstream images (vllm/vllm-tpu, vllm/vllm-openai) carry it in their tag. Red Hat AI Inference Server images are
/// tagged with the RHAIIS release; the table maps those to the vLLM release they package.
/// Unverified: the RHAIIS 3.2 → vLLM 0.10.1.1 mapping is taken from memory of the RHAIIS 3.2 release notes, not
/// read from the image; correct it from a real pod (`python3 -c 'import vllm; print(vllm.__version__)'`) when known.
/// </summary>
internal static partial class VllmVersions
{
    /// <summary>What an image without a recognisable tag is taken to run: the newest RHAIIS release in the table.</summary>
    public static string Default => s_rhaiis[^1].Vllm;

    private static readonly (string TagPrefix, string Vllm)[] s_rhaiis =
    [
        ("3.2", "0.10.1.1"),
    ];

    [GeneratedRegex(@"^v?(\d+\.\d+\.\d+(?:\.\d+)?)")] private static partial Regex UpstreamTag();

    /// <summary>The vLLM version of <paramref name="image"/>; the default image's for an unknown one.</summary>
    public static string ForImage(string? image)
    {
        if (string.IsNullOrEmpty(image)) return Default;
        var at = image.IndexOf('@');
        var name = at >= 0 ? image[..at] : image;
        var colon = name.LastIndexOf(':');
        var tag = colon > name.LastIndexOf('/') ? name[(colon + 1)..] : "latest";
        var repo = colon > name.LastIndexOf('/') ? name[..colon] : name;
        if (repo.Contains("/rhaiis/", StringComparison.Ordinal))
        {
            foreach (var (prefix, vllm) in s_rhaiis)
                if (tag == prefix || tag.StartsWith(prefix + ".", StringComparison.Ordinal)) return vllm;
            return s_rhaiis[^1].Vllm;
        }
        if (repo.Contains("vllm", StringComparison.OrdinalIgnoreCase) && UpstreamTag().Match(tag) is { Success: true } m) return m.Groups[1].Value;
        return Default;
    }
}
