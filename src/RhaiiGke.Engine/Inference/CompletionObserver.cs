using System.Runtime.CompilerServices;
using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace RhaiiGke.Engine.Inference;

/// <summary>
/// Reads an OpenAI completion or chat response (SSE chunks or one JSON body) and keeps what the
/// benchmark and the endpoint test need: content timestamps, usage, finish_reason, pod, errors.
/// TTFT and ITL use content-bearing chunks (non-empty text or delta.content); E2EL uses the last
/// chunk with a non-empty choices array, as vLLM does; usage-only chunks and [DONE] are not timed.
/// </summary>
internal sealed class CompletionObserver : IResponseSink
{
    public int Status;
    public string? ContentType;
    public string? Pod;
    public long HeadAt;
    public long FirstContentAt;
    public long LastChoiceAt;
    public readonly List<long> ContentTimes = new(256);
    public int? PromptTokens, CompletionTokens, CachedTokens;
    public string? FinishReason;
    public string? Error;
    public bool Done;
    public int Events, ChoiceChunks, ContentChunks, UsageChunks;
    public bool RoleSeen;
    public bool KeepText;
    public readonly StringBuilder Text = new();
    public string? ErrorBody;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Reset()
    {
        Status = 0; ContentType = null; Pod = null; HeadAt = FirstContentAt = LastChoiceAt = 0;
        ContentTimes.Clear();
        PromptTokens = CompletionTokens = CachedTokens = null;
        FinishReason = null; Error = null; Done = false; ErrorBody = null;
        Events = ChoiceChunks = ContentChunks = UsageChunks = 0;
        RoleSeen = false;
        Text.Clear();
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void OnHead(int status, string? contentType, string? pod, long timestamp)
    {
        Status = status; ContentType = contentType; Pod = pod; HeadAt = timestamp;
    }

    public void OnEvent(ReadOnlySpan<byte> data, long timestamp)
    {
        Events++;
        if (data.SequenceEqual("[DONE]"u8)) { Done = true; return; }
        if (Status != 200) { ErrorBody ??= Encoding.UTF8.GetString(data); Error ??= ExtractError(data); return; }
        Parse(data, timestamp);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void OnBody(ReadOnlySpan<byte> body, long timestamp)
    {
        if (Status != 200)
        {
            ErrorBody = Encoding.UTF8.GetString(body.Length > 2000 ? body[..2000] : body);
            Error = ExtractError(body) ?? ErrorBody;
            return;
        }
        Parse(body, timestamp);
    }

    private static string? ExtractError(ReadOnlySpan<byte> json)
    {
        try
        {
            var r = new Utf8JsonReader(json);
            while (r.Read())
            {
                if (r.TokenType == JsonTokenType.PropertyName && (r.ValueTextEquals("message"u8) || r.ValueTextEquals("detail"u8)))
                {
                    r.Read();
                    if (r.TokenType == JsonTokenType.String) return r.GetString();
                }
            }
        }
        catch (JsonException) { }
        return null;
    }

    /// <summary>Turns off <see cref="ChunkScanner"/> (every chunk through Utf8JsonReader), for tests that compare the two.</summary>
    internal static bool FastPath { get; set; } = true;

    /// <summary>Turns off the read against earlier chunks (<see cref="TryTemplate"/>), for tests that compare.</summary>
    internal static bool TemplatePath { get; set; } = true;

    /// <summary>
    /// A chunk ChunkScanner read, kept to read later chunks against: its bytes, what the scanner made of it, and
    /// its free strings, the raw bytes of its top-level "id" and of its one content string (text or delta
    /// content), in the order they sit.
    /// </summary>
    private sealed class Template
    {
        public byte[] Bytes = new byte[512];
        public int Length, Free, Content = -1;
        public readonly int[] Starts = new int[2], Ends = new int[2];
        public ChunkScanner.Result Result;
    }

    /// <summary>
    /// The shapes of a server's chunks: content chunks, the last chunk (finish_reason), the usage chunk, a whole
    /// answer. One set per thread, shared by the observers of every connection it serves (a new request differs
    /// in its id, which is free): the set stays in the CPU's caches where one per connection (512 of them in a
    /// bench cell, each touched once per answer) did not.
    /// </summary>
    private sealed class TemplateSet
    {
        public readonly Template[] Items = [new(), new(), new(), new()];
        public int Count, Last, Next;
    }

    [ThreadStatic] private static TemplateSet? t_templates;

    /// <summary>Forgets this thread's remembered shapes (for tests that count the chunks read against them).</summary>
    internal static void ForgetTemplates() => t_templates = null;

    /// <summary>Chunks read against an earlier chunk (for tests).</summary>
    internal int TemplateHits;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Parse(ReadOnlySpan<byte> json, long ts)
    {
        if (FastPath && !KeepText)
        {
            if (TryTemplate(json, ts)) return;
            if (ChunkScanner.TryScan(json, out var scan))
            {
                Apply(in scan, ts);
                if (scan.ContentStrings <= 1 && TemplatePath) Remember(json, in scan);
                return;
            }
        }
        ParseFull(json, ts);
    }

    /// <summary>
    /// The chunks of a stream differ in a few strings: every chunk of a stream has the same model, created
    /// and field order, and the same bytes around its text until the last chunk (finish_reason) and the usage
    /// chunk; the next request's chunks differ in their id too. A chunk that is a remembered chunk with other
    /// plain string bodies (no quote, backslash or control character; valid UTF-8) in its free strings is the
    /// same JSON with other strings in the same places: the scanner's answer for it is the remembered one, with
    /// content when its content string is not empty. A few vectorized compares and a scan of the free strings
    /// instead of a walk over every member.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool TryTemplate(ReadOnlySpan<byte> json, long ts)
    {
        if (!TemplatePath || t_templates is not { } set) return false;
        for (var k = 0; k < set.Count; k++)
        {
            var i = set.Last + k;
            if (i >= set.Count) i -= set.Count;
            if (!Matches(set.Items[i], json, out var contentLength)) continue;
            set.Last = i;
            var r = set.Items[i].Result;
            if (contentLength >= 0) r.Content = contentLength > 0;
            TemplateHits++;
            Apply(in r, ts);
            return true;
        }
        return false;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool Matches(Template t, ReadOnlySpan<byte> json, out int contentLength)
    {
        contentLength = -1;
        var bytes = t.Bytes.AsSpan(0, t.Length);
        int jp = 0, tp = 0;
        for (var f = 0; f < t.Free; f++)
        {
            // The fixed bytes up to the free string (its opening quote included), then the string up to its closing quote.
            var fixedPart = bytes[tp..t.Starts[f]];
            if (json.Length - jp < fixedPart.Length || !json.Slice(jp, fixedPart.Length).SequenceEqual(fixedPart)) return false;
            jp += fixedPart.Length;
            var q = PlainString(json[jp..]);
            if (q < 0) return false;
            if (f == t.Content) contentLength = q;
            jp += q;
            tp = t.Ends[f];
        }
        return json.Length - jp == t.Length - tp && json[jp..].SequenceEqual(bytes[tp..]);
    }

    /// <summary>
    /// The length of a plain JSON string body at the start of <paramref name="s"/> (up to its closing quote): no
    /// backslash, no control character, valid UTF-8; -1 for anything else. Ids and tokens are short: one
    /// scalar pass costs less than the vectorized searches' set-up.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int PlainString(ReadOnlySpan<byte> s)
    {
        var ascii = true;
        for (var i = 0; i < s.Length; i++)
        {
            var c = s[i];
            if (c == '"') return ascii || System.Text.Unicode.Utf8.IsValid(s[..i]) ? i : -1;
            if (c == '\\' || c < 0x20) return -1;
            if (c >= 0x80) ascii = false;
        }
        return -1;
    }

    private static void Remember(ReadOnlySpan<byte> json, in ChunkScanner.Result scan)
    {
        if (json.Length > 4096) return;
        var set = t_templates ??= new TemplateSet();
        var t = set.Items[set.Next];
        set.Last = set.Next;
        set.Next = (set.Next + 1) % set.Items.Length;
        if (set.Count < set.Items.Length) set.Count++;
        if (t.Bytes.Length < json.Length) t.Bytes = new byte[Math.Max(json.Length, t.Bytes.Length * 2)];
        json.CopyTo(t.Bytes);
        t.Length = json.Length;
        t.Result = scan;
        t.Free = 0;
        t.Content = -1;
        var hasId = scan.IdEnd > 0;
        var hasContent = scan.ContentStrings == 1;
        if (hasId && hasContent && scan.ContentStart < scan.IdStart)
        {
            Add(t, scan.ContentStart, scan.ContentEnd, content: true);
            Add(t, scan.IdStart, scan.IdEnd, content: false);
        }
        else
        {
            if (hasId) Add(t, scan.IdStart, scan.IdEnd, content: false);
            if (hasContent) Add(t, scan.ContentStart, scan.ContentEnd, content: true);
        }

        static void Add(Template t, int start, int end, bool content)
        {
            if (content) t.Content = t.Free;
            t.Starts[t.Free] = start;
            t.Ends[t.Free] = end;
            t.Free++;
        }
    }

    /// <summary>What <see cref="ParseFull"/> would have done for a chunk <see cref="ChunkScanner"/> read.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal void Apply(in ChunkScanner.Result s, long ts)
    {
        if (s.RoleSeen) RoleSeen = true;
        if (s.FinishReason is not null) FinishReason = s.FinishReason;
        if (s.Usage)
        {
            UsageChunks++;
            if (s.PromptTokens is { } p) PromptTokens = p;
            if (s.CompletionTokens is { } c) CompletionTokens = c;
            if (s.CachedTokens is { } k) CachedTokens = k;
        }
        if (!s.AnyChoice) return;
        ChoiceChunks++;
        LastChoiceAt = ts;
        if (s.Content)
        {
            ContentChunks++;
            if (FirstContentAt == 0) FirstContentAt = ts;
            ContentTimes.Add(ts);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal void ParseFull(ReadOnlySpan<byte> json, long ts)
    {
        try
        {
            var r = new Utf8JsonReader(json);
            if (!r.Read() || r.TokenType != JsonTokenType.StartObject) { Error ??= "A response chunk is not a JSON object."; return; }
            while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
            {
                if (r.ValueTextEquals("choices"u8))
                {
                    r.Read();
                    if (r.TokenType == JsonTokenType.StartArray) ParseChoices(ref r, ts); else r.Skip();
                }
                else if (r.ValueTextEquals("usage"u8))
                {
                    r.Read();
                    if (r.TokenType == JsonTokenType.StartObject) ParseUsage(ref r); else r.Skip();
                }
                else if (r.ValueTextEquals("error"u8))
                {
                    r.Read();
                    if (r.TokenType == JsonTokenType.StartObject)
                    {
                        var depth = r.CurrentDepth;
                        string? msg = null;
                        while (r.Read() && !(r.TokenType == JsonTokenType.EndObject && r.CurrentDepth == depth))
                            if (r.TokenType == JsonTokenType.PropertyName && r.ValueTextEquals("message"u8) && r.Read() && r.TokenType == JsonTokenType.String) msg = r.GetString();
                        Error ??= msg ?? "error";
                    }
                    else if (r.TokenType == JsonTokenType.String) Error ??= r.GetString();
                    else r.Skip();
                }
                else { r.Read(); r.Skip(); }
            }
        }
        catch (JsonException ex)
        {
            Error ??= "Malformed JSON in the response: " + ex.Message;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ParseChoices(ref Utf8JsonReader r, long ts)
    {
        var any = false;
        var content = false;
        while (r.Read() && r.TokenType != JsonTokenType.EndArray)
        {
            if (r.TokenType != JsonTokenType.StartObject) { r.Skip(); continue; }
            any = true;
            while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
            {
                if (r.ValueTextEquals("delta"u8) || r.ValueTextEquals("message"u8))
                {
                    r.Read();
                    if (r.TokenType != JsonTokenType.StartObject) { r.Skip(); continue; }
                    while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
                    {
                        if (r.ValueTextEquals("content"u8))
                        {
                            r.Read();
                            if (r.TokenType == JsonTokenType.String && r.ValueSpan.Length > 0) { content = true; if (KeepText) Text.Append(r.GetString()); }
                        }
                        else if (r.ValueTextEquals("role"u8)) { RoleSeen = true; r.Read(); r.Skip(); }
                        else { r.Read(); r.Skip(); }
                    }
                }
                else if (r.ValueTextEquals("text"u8))
                {
                    r.Read();
                    if (r.TokenType == JsonTokenType.String && r.ValueSpan.Length > 0) { content = true; if (KeepText) Text.Append(r.GetString()); }
                }
                else if (r.ValueTextEquals("finish_reason"u8))
                {
                    r.Read();
                    // The usual values without a string allocation per response.
                    if (r.TokenType == JsonTokenType.String)
                        FinishReason = r.ValueTextEquals("length"u8) ? "length" : r.ValueTextEquals("stop"u8) ? "stop" : r.GetString();
                }
                else { r.Read(); r.Skip(); }
            }
        }
        if (!any) return;
        ChoiceChunks++;
        LastChoiceAt = ts;
        if (content)
        {
            ContentChunks++;
            if (FirstContentAt == 0) FirstContentAt = ts;
            ContentTimes.Add(ts);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ParseUsage(ref Utf8JsonReader r)
    {
        UsageChunks++;
        var depth = r.CurrentDepth;
        while (r.Read() && !(r.TokenType == JsonTokenType.EndObject && r.CurrentDepth == depth))
        {
            if (r.TokenType != JsonTokenType.PropertyName) continue;
            if (r.ValueTextEquals("prompt_tokens"u8)) { r.Read(); if (r.TokenType == JsonTokenType.Number) PromptTokens = r.GetInt32(); }
            else if (r.ValueTextEquals("completion_tokens"u8)) { r.Read(); if (r.TokenType == JsonTokenType.Number) CompletionTokens = r.GetInt32(); }
            else if (r.ValueTextEquals("cached_tokens"u8)) { r.Read(); if (r.TokenType == JsonTokenType.Number) CachedTokens = r.GetInt32(); }
        }
    }

    /// <summary>Seconds between two Stopwatch timestamps.</summary>
    public static double Seconds(long from, long to) => (to - from) / (double)Stopwatch.Frequency;
}
