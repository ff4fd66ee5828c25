using System.Net.Sockets;
using System.Text;
using RhaiiGke.Engine.Inference;
using Xunit;

namespace RhaiiGke.Tests.Inference;

/// <summary>What the benchmark runner tests share: running a spec, and the request side of a hand-written test server.</summary>
internal static class BenchmarkRuns
{
    /// <summary>Every result the runner yields for <paramref name="spec"/> (one per stage and model).</summary>
    public static async Task<List<InferenceBenchmarkResult>> RunAll(InferenceBenchmarkSpec spec)
    {
        var list = new List<InferenceBenchmarkResult>();
        await foreach (var r in new InferenceBenchmarkRunner(spec).RunAsync()) list.Add(r);
        return list;
    }

    /// <summary>The one result of a single-stage spec.</summary>
    public static async Task<InferenceBenchmarkResult> RunOne(InferenceBenchmarkSpec spec) => Assert.Single(await RunAll(spec));

    /// <summary>
    /// Reads the next HTTP request with a Content-Length body from <paramref name="s"/> and returns its body; bytes
    /// past it stay in <paramref name="pending"/> for the next call. Null when the client closed the connection.
    /// </summary>
    public static async Task<string?> ReadRequestAsync(Socket s, List<byte> pending, CancellationToken ct = default)
    {
        var buf = new byte[65536];
        while (true)
        {
            var text = Encoding.ASCII.GetString(pending.ToArray());
            var headEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (headEnd >= 0)
            {
                var cl = int.Parse(text[..headEnd].Split("\r\n").First(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))[15..].Trim());
                if (pending.Count >= headEnd + 4 + cl)
                {
                    var body = text.Substring(headEnd + 4, cl);
                    pending.RemoveRange(0, headEnd + 4 + cl);
                    return body;
                }
            }
            var n = await s.ReceiveAsync(buf, ct);
            if (n == 0) return null;
            pending.AddRange(buf.AsSpan(0, n).ToArray());
        }
    }
}
