using RhaiiGke.Engine.Net;

namespace RhaiiGke.Engine.Kube;

/// <summary>
/// The last line of classification, used by the cmdlet base: any exception that escaped the Engine's own handling
/// (a transport failure, a Kubernetes Status error) becomes a <see cref="RhaiiException"/> with a stable ErrorId,
/// category and fix instead of reaching the user raw.
/// </summary>
public static class FailureClassifier
{
    /// <summary>The classified error, or null when <paramref name="e"/> is not a failure this knows.</summary>
    public static RhaiiException? Classify(Exception e)
    {
        if (e is RhaiiException r) return r;
        if (e is AggregateException { InnerExceptions.Count: 1 } agg) return Classify(agg.InnerExceptions[0]);
        for (var x = e; x is not null; x = x.InnerException)
        {
            if (x is KubeTransportException t) return t.ToRhaii();
            if (x is KubeApiException k) return k.ToRhaii();
        }
        if (TransportFailure.Classify(e) is { } kind)
            return TransportFailure.ToRhaii(kind, e, "Endpoint", "the server", EndpointOf(e) ?? "its address", null,
                "Check that the server is running and reachable, then retry.");
        return null;
    }

    private static string? EndpointOf(Exception e)
    {
        // SocketsHttpHandler puts "(host:port)" at the end of connection errors
        var m = System.Text.RegularExpressions.Regex.Match(e.Message, @"\(([^()\s]+:\d+)\)\s*$");
        return m.Success ? m.Groups[1].Value : null;
    }
}
