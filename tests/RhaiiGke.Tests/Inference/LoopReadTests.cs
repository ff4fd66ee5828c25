using System.Net;
using System.Net.Sockets;
using System.Text;
using RhaiiGke.Engine.Inference;
using Xunit;

namespace RhaiiGke.Tests.Inference;

/// <summary>
/// The event loop reads every answer into one receive buffer shared by its connections and keeps only an
/// unfinished answer's bytes in the connection's own buffer. A server here sends its answers in awkward pieces
/// (the head cut mid-line, chunk-size lines and events cut anywhere, a 70 KB event larger than the shared buffer),
/// on several connections at once, so that one connection's unfinished answer sits out while others read: every
/// answer must still be read whole and exactly.
/// </summary>
public sealed class LoopReadTests
{
    /// <summary>The tokens of answer <paramref name="k"/>: every fifth one has a 70,000-byte token.</summary>
    private static string[] Tokens(int k) =>
        Enumerable.Range(0, 4 + k % 7).Select(i => k % 5 == 0 && i == 1 ? " " + new string((char)('a' + k % 26), 70_000) : $" w{k}-{i}").ToArray();

    private static byte[] Answer(int k, bool stream)
    {
        var tokens = Tokens(k);
        var usage = $$"""{"prompt_tokens":5,"completion_tokens":{{tokens.Length}},"total_tokens":{{5 + tokens.Length}}}""";
        if (!stream)
        {
            var body = Encoding.UTF8.GetBytes($$"""{"id":"cmpl-{{k}}","object":"text_completion","created":1,"model":"m","choices":[{"index":0,"text":"{{string.Concat(tokens)}}","logprobs":null,"finish_reason":"length","stop_reason":null}],"usage":{{usage}}}""");
            return Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n").Concat(body).ToArray();
        }
        var events = tokens.Select((t, i) => $$"""data: {"id":"cmpl-{{k}}","object":"text_completion","created":1,"model":"m","choices":[{"index":0,"text":"{{t}}","logprobs":null,"finish_reason":{{(i == tokens.Length - 1 ? "\"length\"" : "null")}},"stop_reason":null}],"usage":null}""" + "\n\n")
            .Append($$"""data: {"id":"cmpl-{{k}}","object":"text_completion","created":1,"model":"m","choices":[],"usage":{{usage}}}""" + "\n\n")
            .Append("data: [DONE]\n\n").ToList();
        if (k % 2 == 0)
        {
            // An event stream with a Content-Length, as a canned server sends it.
            var body = Encoding.UTF8.GetBytes(string.Concat(events));
            return Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: {body.Length}\r\n\r\n").Concat(body).ToArray();
        }
        // Chunked, one HTTP chunk per event, as vLLM sends it.
        var chunked = new MemoryStream();
        chunked.Write("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\nTransfer-Encoding: chunked\r\n\r\n"u8);
        foreach (var e in events)
        {
            var b = Encoding.UTF8.GetBytes(e);
            chunked.Write(Encoding.ASCII.GetBytes($"{b.Length:x}\r\n"));
            chunked.Write(b);
            chunked.Write("\r\n"u8);
        }
        chunked.Write("0\r\n\r\n"u8);
        return chunked.ToArray();
    }

    /// <summary>A keep-alive server answering request k with <see cref="Answer"/>, sent in 2-6 pieces cut at seeded places.</summary>
    private static (TcpListener Listener, CancellationTokenSource Stop) Serve()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start(64);
        var cts = new CancellationTokenSource();
        var next = 0;
        _ = Task.Run(async () =>
        {
            while (!cts.IsCancellationRequested)
            {
                Socket s;
                try { s = await listener.AcceptSocketAsync(cts.Token); } catch { return; }
                s.NoDelay = true;
                _ = Task.Run(async () =>
                {
                    using var _ = s;
                    var pending = new List<byte>();
                    try
                    {
                        while (await BenchmarkRuns.ReadRequestAsync(s, pending, cts.Token) is { } body)
                        {
                            var k = Interlocked.Increment(ref next);
                            var answer = Answer(k, body.Contains("\"stream\":true", StringComparison.Ordinal));
                            var rng = new Random(k);
                            var cuts = Enumerable.Range(0, rng.Next(1, 6)).Select(_ => rng.Next(1, answer.Length)).Append(0).Append(answer.Length).Distinct().Order().ToArray();
                            for (var i = 0; i + 1 < cuts.Length; i++)
                            {
                                await s.SendAsync(answer.AsMemory(cuts[i], cuts[i + 1] - cuts[i]), cts.Token);
                                // Shapes the byte stream into separate reads (the test does not depend on it).
                                await Task.Delay(1, cts.Token);
                            }
                        }
                    }
                    catch (Exception) when (cts.IsCancellationRequested) { }
                    catch (SocketException) { }
                });
            }
        });
        return (listener, cts);
    }

    [Theory]
    [InlineData(true, true)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public async Task AnswersInPiecesOnManyConnectionsAreReadWholeAndExactly(bool streaming, bool detailed)
    {
        var (listener, stop) = Serve();
        try
        {
            var r = await BenchmarkRuns.RunOne(new InferenceBenchmarkSpec
            {
                BaseUrl = $"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}", Model = "m", Api = InferenceApi.Completions, Streaming = streaming,
                Concurrency = [6], NumPrompts = 60, Warmups = 0, Detailed = detailed, RequestTimeout = TimeSpan.FromSeconds(60),
            });
            Assert.Equal(0, r.Failed);
            Assert.Equal(60, r.Completed);
            // Answers 1..60 were handed out in the order requests arrived; their token counts add up whatever the order.
            Assert.Equal(Enumerable.Range(1, 60).Sum(k => Tokens(k).Length), r.TotalOutputTokens);
            if (detailed)
            {
                // Every answer's text is exactly one of the answers sent, and each was read once.
                var expected = Enumerable.Range(1, 60).Select(k => string.Concat(Tokens(k))).Order(StringComparer.Ordinal).ToList();
                Assert.Equal(expected, r.Requests!.Select(q => q.GeneratedText).Order(StringComparer.Ordinal).ToList());
            }
            if (streaming)
            {
                // Every token but the first of each answer is one inter-token gap.
                Assert.Equal(Enumerable.Range(1, 60).Sum(k => Tokens(k).Length - 1), r.Itl.Count);
            }
        }
        finally
        {
            stop.Cancel();
            listener.Stop();
        }
    }
}
