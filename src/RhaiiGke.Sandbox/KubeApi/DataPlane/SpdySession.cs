using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using System.Threading.Channels;

namespace RhaiiGke.Sandbox.KubeApi.DataPlane;

/// <summary>
/// The server side of a SPDY/3.1 connection (draft-mbelshe-httpbis-spdy, as Kubernetes' httpstream speaks it
/// for port-forward, exec and attach) over any duplex stream: an upgraded HTTP/1.1 connection, or the bytes
/// tunnelled in WebSocket binary messages. Streams the client opens (SYN_STREAM) are answered with SYN_REPLY and
/// handed to <c>onStream</c>; DATA frames feed them, FIN half-closes, RST_STREAM resets; PING is echoed, SETTINGS
/// and WINDOW_UPDATE are accepted (like the Go implementation, no flow-control window is enforced), GOAWAY ends
/// the session. Header blocks are zlib with the SPDY/3 dictionary, one compression context per direction for
/// the whole connection; this side compresses with stored (uncompressed) deflate blocks, sync-flushed per frame.
/// </summary>
internal sealed class SpdySession
{
    private const int Version = 3;
    private const ushort SynStream = 1, SynReply = 2, RstStream = 3, Settings = 4, Ping = 6, GoAway = 7, Headers = 8, WindowUpdate = 9;
    public const byte FlagFin = 0x01;
    /// <summary>RST_STREAM status codes.</summary>
    public const int ProtocolError = 1, InvalidStream = 2, Cancel = 5;

    private readonly Stream _io;
    private readonly Func<SpdyStream, Task> _onStream;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly Dictionary<uint, SpdyStream> _streams = [];
    private readonly MemoryStream _inflateInput = new();
    private long _inflated;
    private bool _inflateHeaderSeen, _deflateStarted;
    private uint _lastStream;

    /// <summary>Why the last session in this process ended early (diagnostics).</summary>
    public static Exception? LastError { get; private set; }

    public SpdySession(Stream io, Func<SpdyStream, Task> onStream)
    {
        _io = io;
        _onStream = onStream;
    }

    /// <summary>Reads frames until the client goes away, sends GOAWAY, or <paramref name="ct"/> ends the session.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        var head = new byte[8];
        try
        {
            while (!ct.IsCancellationRequested)
            {
                if (!await ReadExactAsync(head, ct).ConfigureAwait(false)) break;
                var length = (head[5] << 16) | (head[6] << 8) | head[7];
                var flags = head[4];
                var payload = new byte[length];
                if (length > 0 && !await ReadExactAsync(payload, ct).ConfigureAwait(false)) break;
                if ((head[0] & 0x80) == 0)
                {
                    var id = BinaryPrimitives.ReadUInt32BigEndian(head) & 0x7fffffff;
                    await OnDataAsync(id, flags, payload).ConfigureAwait(false);
                    continue;
                }
                var version = ((head[0] & 0x7f) << 8) | head[1];
                var type = (ushort)((head[2] << 8) | head[3]);
                if (version != Version) throw new InvalidDataException($"unsupported SPDY version {version}");
                switch (type)
                {
                    case SynStream:
                        await OnSynStreamAsync(flags, payload).ConfigureAwait(false);
                        break;
                    case RstStream:
                        Stream(BinaryPrimitives.ReadUInt32BigEndian(payload) & 0x7fffffff)?.OnReset();
                        break;
                    case Ping:
                        await WriteFrameAsync(ControlHead(Ping, 0, payload.Length), payload, ct).ConfigureAwait(false);
                        break;
                    case GoAway:
                        return;
                    case Headers:
                    case SynReply:
                        Inflate(payload.AsSpan(4)); // stream id, then the block: keeps the header compression context in step
                        break;
                    case Settings:
                    case WindowUpdate:
                    default:
                        break;
                }
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException or InvalidDataException) { LastError = e; }
        catch (Exception e) { LastError = e; throw; }
        finally
        {
            List<SpdyStream> open;
            lock (_streams) { open = [.. _streams.Values]; _streams.Clear(); }
            foreach (var s in open) s.OnReset();
            try { await SendGoAwayAsync().ConfigureAwait(false); } catch (Exception) { }
        }
    }

    private SpdyStream? Stream(uint id)
    {
        lock (_streams) return _streams.GetValueOrDefault(id);
    }

    private async Task OnSynStreamAsync(byte flags, byte[] payload)
    {
        var id = BinaryPrimitives.ReadUInt32BigEndian(payload) & 0x7fffffff;
        var headers = ParseHeaderBlock(Inflate(payload.AsSpan(10)));
        if (id == 0 || id % 2 == 0 || id <= _lastStream)
        {
            await SendRstAsync(id, ProtocolError).ConfigureAwait(false);
            return;
        }
        _lastStream = id;
        var stream = new SpdyStream(this, id, headers);
        lock (_streams) _streams[id] = stream;
        if ((flags & FlagFin) != 0) stream.OnRemoteFin();
        await SendReplyAsync(id).ConfigureAwait(false);
        _ = Task.Run(async () =>
        {
            try { await _onStream(stream).ConfigureAwait(false); }
            catch (Exception) { try { await stream.ResetAsync().ConfigureAwait(false); } catch (Exception) { } }
        });
    }

    private async Task OnDataAsync(uint id, byte flags, byte[] payload)
    {
        var s = Stream(id);
        if (s is null)
        {
            await SendRstAsync(id, InvalidStream).ConfigureAwait(false);
            return;
        }
        if (payload.Length > 0) s.OnData(payload);
        if ((flags & FlagFin) != 0) s.OnRemoteFin();
    }

    internal void Forget(uint id)
    {
        lock (_streams) _streams.Remove(id);
    }

    // ------------------------------------------------------------------ writing

    private static byte[] ControlHead(ushort type, byte flags, int length) =>
    [
        0x80 | (Version >> 8), Version & 0xff, (byte)(type >> 8), (byte)type, flags,
        (byte)(length >> 16), (byte)(length >> 8), (byte)length,
    ];

    private async Task WriteFrameAsync(byte[] head, ReadOnlyMemory<byte> payload, CancellationToken ct = default)
    {
        await _writeLock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            await _io.WriteAsync(head, ct).ConfigureAwait(false);
            if (payload.Length > 0) await _io.WriteAsync(payload, ct).ConfigureAwait(false);
            await _io.FlushAsync(ct).ConfigureAwait(false);
        }
        finally { _writeLock.Release(); }
    }

    internal async Task SendDataAsync(uint id, ReadOnlyMemory<byte> data, bool fin)
    {
        const int Max = 32 * 1024;
        do
        {
            var chunk = data[..Math.Min(Max, data.Length)];
            data = data[chunk.Length..];
            var last = data.Length == 0;
            var head = new byte[8];
            BinaryPrimitives.WriteUInt32BigEndian(head, id & 0x7fffffff);
            head[4] = fin && last ? FlagFin : (byte)0;
            head[5] = (byte)(chunk.Length >> 16); head[6] = (byte)(chunk.Length >> 8); head[7] = (byte)chunk.Length;
            await WriteFrameAsync(head, chunk).ConfigureAwait(false);
        }
        while (data.Length > 0);
    }

    internal Task SendRstAsync(uint id, int status)
    {
        var p = new byte[8];
        BinaryPrimitives.WriteUInt32BigEndian(p, id & 0x7fffffff);
        BinaryPrimitives.WriteInt32BigEndian(p.AsSpan(4), status);
        return WriteFrameAsync(ControlHead(RstStream, 0, p.Length), p);
    }

    private async Task SendReplyAsync(uint id)
    {
        // the header block is compressed inside the write lock: the deflate context is the connection's
        await _writeLock.WaitAsync().ConfigureAwait(false);
        try
        {
            var block = Deflate(HeaderBlock([]));
            var p = new byte[4 + block.Length];
            BinaryPrimitives.WriteUInt32BigEndian(p, id & 0x7fffffff);
            block.CopyTo(p, 4);
            await _io.WriteAsync(ControlHead(SynReply, 0, p.Length)).ConfigureAwait(false);
            await _io.WriteAsync(p).ConfigureAwait(false);
            await _io.FlushAsync().ConfigureAwait(false);
        }
        finally { _writeLock.Release(); }
    }

    private Task SendGoAwayAsync()
    {
        var p = new byte[8];
        BinaryPrimitives.WriteUInt32BigEndian(p, _lastStream);
        return WriteFrameAsync(ControlHead(GoAway, 0, p.Length), p);
    }

    // ------------------------------------------------------------------ header blocks

    private static byte[] HeaderBlock(IReadOnlyList<(string Name, string Value)> headers)
    {
        using var ms = new MemoryStream();
        Span<byte> n = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(n, headers.Count);
        ms.Write(n);
        foreach (var (name, value) in headers)
        {
            foreach (var s in new[] { name.ToLowerInvariant(), value })
            {
                var b = Encoding.UTF8.GetBytes(s);
                BinaryPrimitives.WriteInt32BigEndian(n, b.Length);
                ms.Write(n);
                ms.Write(b);
            }
        }
        return ms.ToArray();
    }

    private static Dictionary<string, string> ParseHeaderBlock(byte[] block)
    {
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (block.Length < 4) throw new InvalidDataException("SPDY header block too short");
        var count = BinaryPrimitives.ReadInt32BigEndian(block);
        var at = 4;
        string Next()
        {
            if (at + 4 > block.Length) throw new InvalidDataException("SPDY header block truncated");
            var len = BinaryPrimitives.ReadInt32BigEndian(block.AsSpan(at));
            at += 4;
            if (len < 0 || at + len > block.Length) throw new InvalidDataException("SPDY header block truncated");
            var s = Encoding.UTF8.GetString(block, at, len);
            at += len;
            return s;
        }
        for (var i = 0; i < count; i++)
        {
            var name = Next();
            var value = Next();
            // several values of one name are NUL-separated; the first is the one the port-forward protocol reads
            headers[name] = value.Split('\0')[0];
        }
        return headers;
    }

    /// <summary>
    /// The next header block from the client's zlib stream (preset SPDY dictionary, sync-flushed per frame).
    /// .NET's inflater takes no preset dictionary, so the dictionary goes in front of the deflate data as a stored
    /// block and the whole stream so far is inflated again; its output past what earlier frames produced is this
    /// frame's block. Port-forward connections carry a handful of small header blocks, so this stays cheap.
    /// </summary>
    private byte[] Inflate(ReadOnlySpan<byte> compressed)
    {
        if (!_inflateHeaderSeen)
        {
            if (compressed.Length < 2 || (compressed[0] & 0x0f) != 8 || ((compressed[0] << 8) | compressed[1]) % 31 != 0)
                throw new InvalidDataException("SPDY header block is not a zlib stream");
            var skip = 2;
            if ((compressed[1] & 0x20) != 0)
            {
                if (compressed.Length < 6 || BinaryPrimitives.ReadUInt32BigEndian(compressed[2..]) != SpdyDictionary.Adler32)
                    throw new InvalidDataException("SPDY header block compressed with another dictionary");
                skip = 6;
            }
            compressed = compressed[skip..];
            _inflateHeaderSeen = true;
        }
        _inflateInput.Write(compressed);
        var dict = SpdyDictionary.Bytes;
        using var input = new MemoryStream();
        input.WriteByte(0); // stored block, not final
        input.WriteByte((byte)dict.Length); input.WriteByte((byte)(dict.Length >> 8));
        input.WriteByte((byte)~dict.Length); input.WriteByte((byte)(~dict.Length >> 8));
        input.Write(dict);
        _inflateInput.Position = 0;
        _inflateInput.CopyTo(input);
        input.Position = 0;
        using var inflater = new DeflateStream(input, CompressionMode.Decompress);
        using var output = new MemoryStream();
        inflater.CopyTo(output);
        var all = output.GetBuffer();
        var start = dict.Length + _inflated;
        var block = all.AsSpan((int)start, (int)(output.Length - start)).ToArray();
        _inflated += block.Length;
        return block;
    }

    /// <summary>This side's zlib stream: the header (with the dictionary's id) once, then per frame a stored block and the sync-flush marker.</summary>
    private byte[] Deflate(byte[] block)
    {
        using var ms = new MemoryStream();
        if (!_deflateStarted)
        {
            ms.WriteByte(0x78); ms.WriteByte(0xBB); // deflate, 32K window, preset dictionary, check bits
            Span<byte> id = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(id, SpdyDictionary.Adler32);
            ms.Write(id);
            _deflateStarted = true;
        }
        ms.WriteByte(0);
        ms.WriteByte((byte)block.Length); ms.WriteByte((byte)(block.Length >> 8));
        ms.WriteByte((byte)~block.Length); ms.WriteByte((byte)(~block.Length >> 8));
        ms.Write(block);
        // the sync-flush marker (an empty stored block), as zlib's Z_SYNC_FLUSH ends every frame: an inflater that looks
        // for the next block before returning (Go's compress/flate) finds it in this frame, not past its end
        ms.Write([0x00, 0x00, 0x00, 0xFF, 0xFF]);
        return ms.ToArray();
    }

    private async Task<bool> ReadExactAsync(byte[] buffer, CancellationToken ct)
    {
        var read = 0;
        while (read < buffer.Length)
        {
            var n = await _io.ReadAsync(buffer.AsMemory(read), ct).ConfigureAwait(false);
            if (n == 0) return false;
            read += n;
        }
        return true;
    }
}

/// <summary>One SPDY stream the client opened: its headers, the bytes it sends, and this side's half.</summary>
internal sealed class SpdyStream
{
    private readonly SpdySession _session;
    private readonly Channel<byte[]> _in = Channel.CreateUnbounded<byte[]>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private byte[]? _pending;
    private int _pendingAt;
    private int _localClosed;

    internal SpdyStream(SpdySession session, uint id, IReadOnlyDictionary<string, string> headers)
    {
        _session = session;
        Id = id;
        Headers = headers;
    }

    public uint Id { get; }
    public IReadOnlyDictionary<string, string> Headers { get; }

    /// <summary>The client reset the stream (or the connection is gone).</summary>
    public bool IsReset { get; private set; }

    private readonly TaskCompletionSource _reset = new(TaskCreationOptions.RunContinuationsAsynchronously);
    /// <summary>Completes when the stream is reset or the connection ends.</summary>
    public Task Reset => _reset.Task;

    internal void OnData(byte[] data) => _in.Writer.TryWrite(data);
    internal void OnRemoteFin() => _in.Writer.TryComplete();

    internal void OnReset()
    {
        IsReset = true;
        _in.Writer.TryComplete();
        _reset.TrySetResult();
    }

    /// <summary>Reads what the client sent; 0 once it half-closed (FIN) or reset the stream.</summary>
    public async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct)
    {
        while (_pending is null || _pendingAt >= _pending.Length)
        {
            if (!await _in.Reader.WaitToReadAsync(ct).ConfigureAwait(false)) return 0;
            if (_in.Reader.TryRead(out var next)) { _pending = next; _pendingAt = 0; }
        }
        var n = Math.Min(buffer.Length, _pending.Length - _pendingAt);
        _pending.AsMemory(_pendingAt, n).CopyTo(buffer);
        _pendingAt += n;
        return n;
    }

    public Task WriteAsync(ReadOnlyMemory<byte> data) =>
        IsReset || Volatile.Read(ref _localClosed) != 0 ? Task.CompletedTask : _session.SendDataAsync(Id, data, fin: false);

    /// <summary>Half-closes this side (an empty DATA frame with FLAG_FIN), once.</summary>
    public Task CloseAsync()
    {
        if (IsReset || Interlocked.Exchange(ref _localClosed, 1) != 0) return Task.CompletedTask;
        return _session.SendDataAsync(Id, ReadOnlyMemory<byte>.Empty, fin: true);
    }

    public Task ResetAsync()
    {
        if (IsReset) return Task.CompletedTask;
        OnReset();
        _session.Forget(Id);
        return _session.SendRstAsync(Id, SpdySession.Cancel);
    }

    /// <summary>Both halves are done: stop tracking the stream.</summary>
    public void Forget() => _session.Forget(Id);
}
