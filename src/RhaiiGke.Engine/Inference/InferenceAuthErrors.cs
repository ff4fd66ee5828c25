namespace RhaiiGke.Engine.Inference;

/// <summary>401/403 answers seen by the inference commands, reported as authentication errors (never as "pass -Model").</summary>
public static class InferenceAuthErrors
{
    /// <summary>InferenceUnauthorized or InferenceForbidden for the first 401/403 among <paramref name="statusCodes"/>; null when there is none.</summary>
    public static RhaiiException? FromStatusCodes(IEnumerable<int> statusCodes, string baseUrl, string what, bool hadKey)
    {
        var codes = statusCodes.ToList();
        var status = codes.Contains(401) ? 401 : codes.Contains(403) ? 403 : 0;
        return status == 0 ? null : InferenceHttp.AuthFailure(status, baseUrl, what, hadKey);
    }

    /// <summary>For a benchmark result's error counts (http_401, http_403).</summary>
    public static RhaiiException? FromBenchmark(InferenceBenchmarkResult r, bool hadKey)
    {
        var n401 = r.ErrorsByType.TryGetValue("http_401", out var a) ? a : 0;
        var n403 = r.ErrorsByType.TryGetValue("http_403", out var b) ? b : 0;
        if (n401 + n403 == 0) return null;
        return InferenceHttp.AuthFailure(n401 > 0 ? 401 : 403, r.BaseUrl,
            $"{n401 + n403} of {r.Completed + r.Failed} benchmark requests{(string.IsNullOrEmpty(r.Label) ? "" : $" ({r.Label})")}", hadKey);
    }
}
