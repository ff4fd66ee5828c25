using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using RhaiiGke.Engine.Inference;
using Xunit;

namespace RhaiiGke.Tests.Inference;

/// <summary>
/// The event loop times each read by when its bytes arrived (the kernel's receive timestamp), not by when the
/// loop got round to reading them: the difference between a loop serving thousands of streams on a busy machine
/// and one thread per stream.
/// </summary>
public sealed class KernelTimestampTests
{
    private static readonly byte[] s_head = Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n");

    private static byte[] Chunk(string data)
    {
        var ev = Encoding.UTF8.GetBytes($"data: {data}\n\n");
        return [.. Encoding.ASCII.GetBytes($"{ev.Length:x}\r\n"), .. ev, .. "\r\n"u8.ToArray()];
    }

    /// <summary>
    /// Sends an answer's head and first token while the loop is not running, waits until those bytes are in the
    /// client's socket, and only then lets the loop read them: returns when they were sent, when they were known
    /// to be there, and the times the observer recorded. With kernel timestamps, exchanges repeat on the kept-alive
    /// connection until a first read carries one (the kernel turns them on machine-wide shortly after the first
    /// socket asks, so the very first answers of a process may come without).
    /// </summary>
    private static (long Sent, long There, CompletionObserver Obs) ReadLate(bool kernel)
    {
        var before = LoopHttpConnection.KernelTimestamps;
        LoopHttpConnection.KernelTimestamps = kernel;
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var target = new HttpTarget($"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}");
            using var loop = new EpollLoop();
            using var conn = new LoopHttpConnection(target, loop, TimeSpan.FromSeconds(30));
            var finished = false;
            RawHttpException? error = null;
            conn.Done = e => { finished = true; error = e; };
            var request = target.BuildRequest("POST", "/v1/completions", """{"model":"m","prompt":"p","stream":true}"""u8, streaming: true);
            Socket? server = null;
            try
            {
                for (var attempt = 0; ; attempt++)
                {
                    var obs = new CompletionObserver();
                    finished = false;
                    Assert.Null(conn.Start(request, obs));
                    server ??= listener.AcceptSocket();
                    var got = new byte[request.Length];
                    for (var n = 0; n < got.Length;) n += server.Receive(got, n, got.Length - n, SocketFlags.None);
                    var sent = Stopwatch.GetTimestamp();
                    server.Send([.. s_head, .. Chunk("""{"choices":[{"index":0,"text":" one","finish_reason":null}]}""")]);
                    // Bytes in the client's socket, and the loop has not run yet: it reads them only after this point.
                    var spin = new SpinWait();
                    while (conn.Available == 0) spin.SpinOnce();
                    var there = Stopwatch.GetTimestamp();
                    loop.Run(() => obs.ContentChunks > 0 || finished, () => { });
                    var stamped = conn.LastReadStamped;
                    server.Send([.. Chunk("""{"choices":[{"index":0,"text":" two","finish_reason":"length"}]}"""), .. Chunk("[DONE]"), .. "0\r\n\r\n"u8.ToArray()]);
                    loop.Run(() => finished, () => { });
                    Assert.Null(error);
                    Assert.Equal(2, obs.ContentChunks);
                    if (!kernel || stamped) return (sent, there, obs);
                    Assert.True(attempt < 200, "No read carried a kernel receive timestamp.");
                }
            }
            finally { server?.Dispose(); }
        }
        finally { LoopHttpConnection.KernelTimestamps = before; }
    }

    [Fact]
    public void AReadIsTimedWhenItsBytesArrivedNotWhenTheLoopGotToThem()
    {
        if (!EpollLoop.Supported) return;
        var (sent, there, obs) = ReadLate(kernel: true);
        // Kernel timestamp: between the server's send and the moment the bytes were seen waiting.
        Assert.InRange(obs.HeadAt, sent, there);
        Assert.InRange(obs.FirstContentAt, sent, there);
        Assert.True(obs.ContentTimes[1] >= obs.ContentTimes[0]);
    }

    [Fact]
    public void WithoutKernelTimestampsAReadIsTimedWhenTheLoopGotToIt()
    {
        // The contrast that shows the test above can fail: stamped when epoll_wait returned, after the bytes were there.
        if (!EpollLoop.Supported) return;
        var (_, there, obs) = ReadLate(kernel: false);
        Assert.True(obs.FirstContentAt > there, $"{obs.FirstContentAt} <= {there}");
    }

    [Fact]
    public void TheRealtimeOffsetMapsNowToNow()
    {
        if (!EpollLoop.Supported) return;
        var offset = EpollLoop.RealtimeToStopwatchOffset();
        var before = Stopwatch.GetTimestamp();
        var realNs = (DateTime.UtcNow - DateTime.UnixEpoch).Ticks * 100;
        var after = Stopwatch.GetTimestamp();
        // DateTime.UtcNow has 100 ns steps; a wrong clock or unit would be off by seconds or years, not a millisecond.
        var mapped = EpollLoop.ToStopwatch(realNs, offset);
        var ms = Stopwatch.Frequency / 1000;
        Assert.InRange(mapped, before - ms, after + ms);
    }
}
