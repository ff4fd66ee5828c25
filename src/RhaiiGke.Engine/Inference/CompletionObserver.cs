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

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Parse(ReadOnlySpan<byte> json, long ts)
    {
        if (FastPath && !KeepText && ChunkScanner.TryScan(json, out var scan))
        {
            Apply(in scan, ts);
            return;
        }
        ParseFull(json, ts);
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
