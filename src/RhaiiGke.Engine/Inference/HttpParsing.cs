using System.Runtime.CompilerServices;
using System.Buffers;
using System.Text;

namespace RhaiiGke.Engine.Inference;

/// <summary>The parts of an HTTP/1.x response head the clients act on.</summary>
internal readonly record struct HttpHead(int Status, string? ContentType, string? Pod, long ContentLength, bool Chunked, bool Close)
{
    public bool EventStream => ContentType is not null && ContentType.StartsWith("text/event-stream", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Parses a status line and headers (without the blank line). Header values that become strings
    /// (content type, x-inference-pod) come from <paramref name="strings"/> when they repeat, so a
    /// connection answering the same headers again and again allocates nothing.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static HttpHead Parse(ReadOnlySpan<byte> head, HeadStrings strings)
    {
        var lineEnd = head.IndexOf("\r\n"u8);
        var statusLine = lineEnd < 0 ? head : head[..lineEnd];
        var sp = statusLine.IndexOf((byte)' ');
        if (sp < 0 || statusLine.Length < sp + 4 || !System.Buffers.Text.Utf8Parser.TryParse(statusLine.Slice(sp + 1, 3), out int status, out _))
            throw new RawHttpException("protocol", "Malformed HTTP status line.");
        var http10 = statusLine.StartsWith("HTTP/1.0"u8);
        string? contentType = null, pod = null;
        long contentLength = -1;
        bool chunked = false, close = http10;
        var rest = lineEnd < 0 ? [] : head[(lineEnd + 2)..];
        while (HttpLines.NextHeader(ref rest, out var name, out var value))
        {
            // By length first: most headers (Date, Server, ...) are skipped without a comparison.
            switch (name.Length)
            {
                case 14 when Ascii.EqualsIgnoreCase(name, "content-length"u8): System.Buffers.Text.Utf8Parser.TryParse(value, out contentLength, out _); break;
                case 12 when Ascii.EqualsIgnoreCase(name, "content-type"u8): contentType = strings.ContentType.Get(value); break;
                case 17 when Ascii.EqualsIgnoreCase(name, "transfer-encoding"u8): chunked = value.IndexOf("chunked"u8) >= 0; break;
                case 15 when Ascii.EqualsIgnoreCase(name, "x-inference-pod"u8): pod = strings.Pod.Get(value); break;
            }
            if (name.Length == 10 && Ascii.EqualsIgnoreCase(name, "connection"u8))
            {
                if (Ascii.EqualsIgnoreCase(value, "close"u8)) close = true;
                else if (Ascii.EqualsIgnoreCase(value, "keep-alive"u8)) close = false;
            }
        }
        if (status is 204 or 304 || status < 200) contentLength = 0;
        return new HttpHead(status, contentType, pod, contentLength, chunked, close);
    }
}

/// <summary>HTTP/1.x line helpers shared by the clients and the vLLM simulator's server.</summary>
internal static class HttpLines
{
    /// <summary>Takes the next "name: value" header line off <paramref name="rest"/> (lines without a colon are skipped); false at the end.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool NextHeader(ref ReadOnlySpan<byte> rest, out ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value)
    {
        while (!rest.IsEmpty)
        {
            var e = rest.IndexOf("\r\n"u8);
            var line = e < 0 ? rest : rest[..e];
            rest = e < 0 ? [] : rest[(e + 2)..];
            var colon = line.IndexOf((byte)':');
            if (colon <= 0) continue;
            name = line[..colon];
            value = line[(colon + 1)..].Trim((byte)' ');
            return true;
        }
        name = value = default;
        return false;
    }

    /// <summary>The size of a chunk from its size line (extensions after ';' ignored), or -1 when malformed.</summary>
    public static int ChunkSize(ReadOnlySpan<byte> line)
    {
        var semi = line.IndexOf((byte)';');
        if (semi >= 0) line = line[..semi];
        return System.Buffers.Text.Utf8Parser.TryParse(line.Trim((byte)' '), out int size, out _, 'x') && size >= 0 ? size : -1;
    }
}

/// <summary>Per-connection cache of the last header strings seen (see <see cref="HttpHead.Parse"/>).</summary>
internal sealed class HeadStrings
{
    public readonly LastString ContentType = new();
    public readonly LastString Pod = new();

    internal sealed class LastString
    {
        private byte[] _bytes = [];
        private string? _value;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public string Get(ReadOnlySpan<byte> value)
        {
            if (_value is not null && value.SequenceEqual(_bytes)) return _value;
            _bytes = value.ToArray();
            return _value = Encoding.ASCII.GetString(value);
        }
    }
}

/// <summary>
/// Splits a text/event-stream body into events as bytes arrive and hands each event's data (its "data:"
/// lines joined with \n) to a sink, stamped with the time the bytes were read.
/// </summary>
internal sealed class SseSplitter
{
    // The bytes of an event not yet complete (kept between reads). Complete events are split straight
    // from the caller's span: with nothing pending, a read's bytes are not copied at all.
    private byte[] _pending = new byte[1024];
    private int _count;

    public void Reset() => _count = 0;

    /// <summary>Off: every event through the general path (for tests that compare the two).</summary>
    internal bool OneLinePath { get; init; } = true;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Push(ReadOnlySpan<byte> data, IResponseSink sink, long readAt)
    {
        if (_count == 0)
        {
            var used = Split(data, sink, readAt, final: false, OneLinePath);
            if (used < data.Length) Keep(data[used..]);
            return;
        }
        Keep(data);
        var consumed = Split(_pending.AsSpan(0, _count), sink, readAt, final: false, OneLinePath);
        if (consumed == 0) return;
        // What is left starts a new pending event: moved to the front, no new array.
        Buffer.BlockCopy(_pending, consumed, _pending, 0, _count - consumed);
        _count -= consumed;
    }

    /// <summary>At the end of the body: an event without its closing blank line still counts.</summary>
    public void Flush(IResponseSink sink, long readAt)
    {
        if (_count > 0) Split(_pending.AsSpan(0, _count), sink, readAt, final: true, OneLinePath);
        _count = 0;
    }

    private void Keep(ReadOnlySpan<byte> data)
    {
        if (_count + data.Length > _pending.Length)
        {
            var bigger = new byte[Math.Max(_pending.Length * 2, _count + data.Length)];
            Buffer.BlockCopy(_pending, 0, bigger, 0, _count);
            _pending = bigger;
        }
        data.CopyTo(_pending.AsSpan(_count));
        _count += data.Length;
    }

    /// <summary>Dispatches every complete event in <paramref name="span"/> (all of it when final); returns the bytes used.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int Split(ReadOnlySpan<byte> span, IResponseSink sink, long readAt, bool final, bool oneLine)
    {
        var consumed = 0;
        while (true)
        {
            var rest = span[consumed..];
            // The usual event, one line ended by LF LF with no CR before it: one scan finds its end and its
            // only line (what the general path below would find with three).
            var first = oneLine ? rest.IndexOfAny((byte)'\n', (byte)'\r') : -1;
            if (first >= 0 && rest[first] == '\n' && first + 1 < rest.Length && rest[first + 1] == '\n')
            {
                DispatchLine(rest[..first], sink, readAt);
                consumed += first + 2;
                continue;
            }
            var end = rest.IndexOf("\n\n"u8);
            var sepLen = 2;
            // A CRLF separator counts when it starts before the first LF LF: searched only that far.
            var crlf = rest[..(end < 0 ? rest.Length : Math.Min(rest.Length, end + 3))].IndexOf("\r\n\r\n"u8);
            if (crlf >= 0 && (end < 0 || crlf < end)) { end = crlf; sepLen = 4; }
            if (end < 0)
            {
                if (final && !rest.IsEmpty) { Dispatch(rest, sink, readAt); consumed = span.Length; }
                return consumed;
            }
            Dispatch(rest[..end], sink, readAt);
            consumed += end + sepLen;
        }
    }

    /// <summary>An event of one line (no CR or LF in it): what <see cref="Dispatch"/> does with it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void DispatchLine(ReadOnlySpan<byte> line, IResponseSink sink, long readAt)
    {
        if (DataOf(line, out var data)) sink.OnEvent(data, readAt);
    }

    /// <summary>The value of a "data:" line (without the one space that may follow the colon); false for other lines.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool DataOf(ReadOnlySpan<byte> line, out ReadOnlySpan<byte> data)
    {
        data = default;
        if (!line.StartsWith("data:"u8)) return false;
        data = line[5..];
        if (!data.IsEmpty && data[0] == ' ') data = data[1..];
        return true;
    }

    private static void Dispatch(ReadOnlySpan<byte> ev, IResponseSink sink, long readAt)
    {
        // An event is lines; "data:" lines are joined with \n, ":" comments and other fields are ignored.
        Span<byte> joined = [];
        byte[]? rented = null;
        var dataCount = 0;
        ReadOnlySpan<byte> single = default;
        var rest = ev;
        while (!rest.IsEmpty)
        {
            var nl = rest.IndexOf((byte)'\n');
            var line = nl < 0 ? rest : rest[..nl];
            rest = nl < 0 ? [] : rest[(nl + 1)..];
            if (!line.IsEmpty && line[^1] == '\r') line = line[..^1];
            if (!DataOf(line, out var data)) continue;
            if (dataCount == 0) single = data;
            else
            {
                rented ??= ArrayPool<byte>.Shared.Rent(ev.Length);
                if (dataCount == 1) { single.CopyTo(rented); joined = rented.AsSpan(0, single.Length); }
                var len = joined.Length;
                rented[len] = (byte)'\n';
                data.CopyTo(rented.AsSpan(len + 1));
                joined = rented.AsSpan(0, len + 1 + data.Length);
            }
            dataCount++;
        }
        if (dataCount == 1) sink.OnEvent(single, readAt);
        else if (dataCount > 1) sink.OnEvent(joined, readAt);
        if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
    }
}
