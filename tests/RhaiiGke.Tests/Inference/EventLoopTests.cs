using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using RhaiiGke.Engine.Inference;
using RhaiiGke.Sandbox.Vllm;
using Xunit;

namespace RhaiiGke.Tests.Inference;

/// <summary>The non-streaming event-loop engine: per-request records, timeouts, and servers that drop kept-alive connections.</summary>
public sealed class EventLoopTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rhaii-loop-").FullName;

    [Fact]
    public async Task EveryRequestIsRecordedAndLoggedWithItsTokensAndPod()
    {
        using var sim = VllmSimulator.Start(new InferenceSimulatorOptions { Replicas = 1, Seed = 3 });
        var log = Path.Combine(_dir, "loop.jsonl");
        var r = await BenchmarkRuns.RunOne(new InferenceBenchmarkSpec
        {
            BaseUrl = sim.Info.BaseUrl, Model = "Qwen/Qwen2.5-3B-Instruct", Api = InferenceApi.Completions, Streaming = false, Concurrency = [8],
            NumPrompts = 100, InputTokens = 12, OutputTokens = 3, Warmups = 0, Detailed = true, RequestLogPath = log,
        });
        Assert.Equal(100, r.Completed);
        Assert.Equal(0, r.Failed);
        Assert.Equal(300, r.TotalOutputTokens);
        Assert.Equal(1200, r.TotalInputTokens);
        Assert.Equal(100, r.Pods["vllm-sim-0"]);
        Assert.Equal(Enumerable.Range(0, 100), r.Requests!.Select(q => q.Index));
        Assert.All(r.Requests!, q => { Assert.Equal("length", q.FinishReason); Assert.Equal(3, q.GeneratedText.Split(' ').Length); Assert.True(q.LatencyMs > 0); });
        var lines = File.ReadAllLines(log);
        Assert.Equal(100, lines.Length);
        Assert.Equal(Enumerable.Range(0, 100), lines.Select(l => JsonDocument.Parse(l).RootElement.GetProperty("index").GetInt32()).Order());
    }

    [Fact]
    public async Task AServerThatNeverAnswersTimesOutEachRequest()
    {
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start(64);
        var accepted = new List<Socket>();
        var acceptor = Task.Run(async () => { try { while (true) accepted.Add(await silent.AcceptSocketAsync()); } catch { } });
        var r = await BenchmarkRuns.RunOne(new InferenceBenchmarkSpec
        {
            BaseUrl = $"http://127.0.0.1:{((IPEndPoint)silent.LocalEndpoint).Port}", Model = "m", Streaming = false, Concurrency = [4], NumPrompts = 8,
            Warmups = 0, RequestTimeout = TimeSpan.FromMilliseconds(300),
        });
        Assert.Equal(8, r.Failed);
        Assert.Equal(8, r.ErrorsByType["timeout"]);
        silent.Stop();
        foreach (var s in accepted) s.Dispose();
    }

    [Fact]
    public async Task AServerThatClosesEveryConnectionAfterAnAnswerIsRetriedOnANewOne()
    {
        // Keep-alive by the book (no Connection: close), but the socket is closed right after each answer.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start(256);
        using var cts = new CancellationTokenSource();
        var body = Encoding.UTF8.GetBytes("""{"id":"x","object":"text_completion","choices":[{"index":0,"text":" a b","finish_reason":"length"}],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}""");
        var answer = Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n").Concat(body).ToArray();
        _ = Task.Run(async () =>
        {
            while (!cts.IsCancellationRequested)
            {
                Socket s;
                try { s = await listener.AcceptSocketAsync(cts.Token); } catch { return; }
                _ = Task.Run(async () =>
                {
                    using var _ = s;
                    if (await BenchmarkRuns.ReadRequestAsync(s, []) is null) return;
                    await s.SendAsync(answer);
                    s.Shutdown(SocketShutdown.Both);
                });
            }
        });
        var r = await BenchmarkRuns.RunOne(new InferenceBenchmarkSpec
        {
            BaseUrl = $"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}", Model = "m", Api = InferenceApi.Completions, Streaming = false,
            Concurrency = [4], NumPrompts = 40, Warmups = 0, RequestTimeout = TimeSpan.FromSeconds(60),
        });
        cts.Cancel();
        Assert.Equal(40, r.Completed);
        Assert.Equal(80, r.TotalOutputTokens);
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch { }
    }
}
