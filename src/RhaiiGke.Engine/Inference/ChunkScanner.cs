using System.Buffers.Text;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Unicode;

namespace RhaiiGke.Engine.Inference;

/// <summary>
/// The benchmark's fast path through an OpenAI response chunk or body: one forward pass over the bytes that
/// picks out what <see cref="CompletionObserver"/> keeps (any choice, content or not, role, finish_reason, usage)
/// and skips everything else without tokenizing it. Utf8JsonReader spent about two thirds of the client's own
/// CPU on 16-token streams (it reads and validates every token of every chunk). Whenever a chunk is not the
/// plain shape this understands (escaped key names, an "error" member, numbers that are not integers, a
/// repeated member, anything malformed), <see cref="TryScan"/> returns false and the observer reads the chunk
/// with Utf8JsonReader as before, so results and error messages are the same either way.
/// </summary>
internal static class ChunkScanner
{
    internal struct Result
    {
        public bool AnyChoice, Content, RoleSeen, Usage;
        public string? FinishReason;
        public int? PromptTokens, CompletionTokens, CachedTokens;
        // The content strings (text or delta/message content) read, and the raw bytes of the last one
        // (between its quotes): CompletionObserver reads the next chunk of a stream against this one.
        public int ContentStrings, ContentStart, ContentEnd;
        // The raw bytes of the top-level "id" string (IdEnd 0 when there is none).
        public int IdStart, IdEnd;
    }

    /// <summary>Reads <paramref name="json"/>; false when the full parser must decide.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static bool TryScan(ReadOnlySpan<byte> json, out Result r)
    {
        r = default;
        if (!Utf8.IsValid(json)) return false;
        var p = 0;
        if (!Expect(json, ref p, (byte)'{')) return false;
        bool choices = false, usage = false;
        if (Peek(json, ref p) == '}') return true;
        while (true)
        {
            if (!Key(json, ref p, out var key)) return false;
            if (key.SequenceEqual("choices"u8))
            {
                if (choices) return false;
                choices = true;
                if (Peek(json, ref p) == '[') { if (!Choices(json, ref p, ref r)) return false; }
                else if (!Skip(json, ref p)) return false;
            }
            else if (key.SequenceEqual("usage"u8))
            {
                if (usage) return false;
                usage = true;
                if (Peek(json, ref p) == '{')
                {
                    r.Usage = true;
                    if (!Usage(json, ref p, ref r, 0)) return false;
                }
                else if (!Skip(json, ref p)) return false;
            }
            else if (key.SequenceEqual("error"u8)) return false;
            else if (key.SequenceEqual("id"u8) && Peek(json, ref p) == '"')
            {
                if (!StringAt(json, ref p, out r.IdStart, out r.IdEnd)) return false;
            }
            else if (!Skip(json, ref p)) return false;
            var c = Peek(json, ref p);
            p++;
            if (c == '}') return true;
            if (c != ',') return false;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool Choices(ReadOnlySpan<byte> s, ref int p, ref Result r)
    {
        p++; // [
        if (Peek(s, ref p) == ']') { p++; return true; }
        while (true)
        {
            if (Peek(s, ref p) != '{') { if (!Skip(s, ref p)) return false; }
            else
            {
                r.AnyChoice = true;
                p++;
                if (Peek(s, ref p) == '}') p++;
                else
                {
                    while (true)
                    {
                        if (!Key(s, ref p, out var key)) return false;
                        if (key.SequenceEqual("text"u8)) { if (!ContentValue(s, ref p, ref r)) return false; }
                        else if (key.SequenceEqual("delta"u8) || key.SequenceEqual("message"u8))
                        {
                            if (Peek(s, ref p) != '{') { if (!Skip(s, ref p)) return false; }
                            else if (!Delta(s, ref p, ref r)) return false;
                        }
                        else if (key.SequenceEqual("finish_reason"u8))
                        {
                            if (Peek(s, ref p) == '"')
                            {
                                if (!String(s, ref p, out var v, out var escaped) || escaped) return false;
                                r.FinishReason = v.SequenceEqual("length"u8) ? "length" : v.SequenceEqual("stop"u8) ? "stop" : Encoding.UTF8.GetString(v);
                            }
                            else if (Peek(s, ref p) != 'n' || !Skip(s, ref p)) return false;
                        }
                        else if (!Skip(s, ref p)) return false;
                        var c = Peek(s, ref p);
                        p++;
                        if (c == '}') break;
                        if (c != ',') return false;
                    }
                }
            }
            var e = Peek(s, ref p);
            p++;
            if (e == ']') return true;
            if (e != ',') return false;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool Delta(ReadOnlySpan<byte> s, ref int p, ref Result r)
    {
        p++; // {
        if (Peek(s, ref p) == '}') { p++; return true; }
        while (true)
        {
            if (!Key(s, ref p, out var key)) return false;
            if (key.SequenceEqual("content"u8)) { if (!ContentValue(s, ref p, ref r)) return false; }
            else
            {
                if (key.SequenceEqual("role"u8)) r.RoleSeen = true;
                if (!Skip(s, ref p)) return false;
            }
            var c = Peek(s, ref p);
            p++;
            if (c == '}') return true;
            if (c != ',') return false;
        }
    }

    /// <summary>A text or content value: a non-empty string is content; null is nothing; anything else goes to the full parser.</summary>
    private static bool ContentValue(ReadOnlySpan<byte> s, ref int p, ref Result r)
    {
        var c = Peek(s, ref p);
        if (c == '"')
        {
            if (!StringAt(s, ref p, out r.ContentStart, out r.ContentEnd)) return false;
            if (r.ContentEnd > r.ContentStart) r.Content = true;
            r.ContentStrings++;
            return true;
        }
        return c == 'n' && Skip(s, ref p);
    }

    /// <summary>The usage object: token counts wherever they sit in it (cached_tokens is inside prompt_tokens_details).</summary>
    private static bool Usage(ReadOnlySpan<byte> s, ref int p, ref Result r, int depth)
    {
        if (depth > 4) return false;
        p++; // {
        if (Peek(s, ref p) == '}') { p++; return true; }
        while (true)
        {
            if (!Key(s, ref p, out var key)) return false;
            var c = Peek(s, ref p);
            var which = key.SequenceEqual("prompt_tokens"u8) ? 1 : key.SequenceEqual("completion_tokens"u8) ? 2 : key.SequenceEqual("cached_tokens"u8) ? 3 : 0;
            if (which != 0 && (c == '-' || (uint)(c - '0') <= 9))
            {
                var start = p;
                if (!Number(s, ref p, out var integer) || !integer || !Utf8Parser.TryParse(s[start..p], out int n, out var used) || used != p - start) return false;
                if (which == 1) r.PromptTokens = n; else if (which == 2) r.CompletionTokens = n; else r.CachedTokens = n;
            }
            else if (c == '{') { if (!Usage(s, ref p, ref r, depth + 1)) return false; }
            else if (c == '[') return false;
            else if (!Skip(s, ref p)) return false;
            var e = Peek(s, ref p);
            p++;
            if (e == '}') return true;
            if (e != ',') return false;
        }
    }

    /// <summary>A member name and its colon; false for names with escapes (the full parser compares unescaped text).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Key(ReadOnlySpan<byte> s, ref int p, out ReadOnlySpan<byte> key)
    {
        key = default;
        if (Peek(s, ref p) != '"' || !String(s, ref p, out key, out var escaped) || escaped) return false;
        return Expect(s, ref p, (byte)':') && Peek(s, ref p) != 0;
    }

    /// <summary>A string at <paramref name="p"/> (its opening quote); its raw bytes between the quotes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool String(ReadOnlySpan<byte> s, ref int p, out ReadOnlySpan<byte> value, out bool escaped)
    {
        var start = ++p;
        escaped = false;
        value = default;
        while (true)
        {
            var k = p < s.Length ? s[p..].IndexOfAny((byte)'"', (byte)'\\') : -1;
            if (k < 0) return false;
            p += k;
            if (s[p] == '"') break;
            // An escape: one of \" \\ \/ \b \f \n \r \t, or \u and four hex digits (anything else is malformed).
            escaped = true;
            if (p + 1 >= s.Length) return false;
            var e = s[p + 1];
            if (e == 'u')
            {
                if (p + 6 > s.Length || !Uri.IsHexDigit((char)s[p + 2]) || !Uri.IsHexDigit((char)s[p + 3]) || !Uri.IsHexDigit((char)s[p + 4]) || !Uri.IsHexDigit((char)s[p + 5])) return false;
                p += 6;
            }
            else if (e is (byte)'"' or (byte)'\\' or (byte)'/' or (byte)'b' or (byte)'f' or (byte)'n' or (byte)'r' or (byte)'t') p += 2;
            else return false;
        }
        value = s[start..p];
        // Control characters must be escaped in JSON: a raw one is malformed (the full parser says so).
        if (value.IndexOfAnyInRange((byte)0, (byte)0x1f) >= 0) return false;
        p++;
        return true;
    }

    /// <summary>A string at <paramref name="p"/>, and where its raw bytes (between the quotes) sit in <paramref name="s"/>.</summary>
    private static bool StringAt(ReadOnlySpan<byte> s, ref int p, out int start, out int end)
    {
        start = p + 1;
        var ok = String(s, ref p, out var value, out _);
        end = start + value.Length;
        return ok;
    }

    /// <summary>A JSON number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?; <paramref name="integer"/> when it has neither fraction nor exponent.</summary>
    private static bool Number(ReadOnlySpan<byte> s, ref int p, out bool integer)
    {
        integer = true;
        if (p < s.Length && s[p] == '-') p++;
        if (p >= s.Length || (uint)(s[p] - '0') > 9) return false;
        if (s[p] == '0') p++;
        else while (p < s.Length && (uint)(s[p] - '0') <= 9) p++;
        if (p < s.Length && s[p] == '.')
        {
            integer = false;
            p++;
            if (p >= s.Length || (uint)(s[p] - '0') > 9) return false;
            while (p < s.Length && (uint)(s[p] - '0') <= 9) p++;
        }
        if (p < s.Length && s[p] is (byte)'e' or (byte)'E')
        {
            integer = false;
            p++;
            if (p < s.Length && s[p] is (byte)'+' or (byte)'-') p++;
            if (p >= s.Length || (uint)(s[p] - '0') > 9) return false;
            while (p < s.Length && (uint)(s[p] - '0') <= 9) p++;
        }
        // A number runs into the next separator, never into a letter or another digit.
        return p >= s.Length || s[p] is (byte)',' or (byte)'}' or (byte)']' or (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n';
    }

    /// <summary>Skips one value of any kind.</summary>
    private static bool Skip(ReadOnlySpan<byte> s, ref int p, int depth = 0)
    {
        var c = Peek(s, ref p);
        switch (c)
        {
            case (byte)'"':
                return String(s, ref p, out _, out _);
            case (byte)'{':
            case (byte)'[':
            {
                // Utf8JsonReader's default limit: deeper input is an error the full parser reports.
                if (depth >= 60) return false;
                p++;
                var close = c == '{' ? (byte)'}' : (byte)']';
                if (Peek(s, ref p) == close) { p++; return true; }
                while (true)
                {
                    if (c == '{' && !Key(s, ref p, out _)) return false;
                    if (!Skip(s, ref p, depth + 1)) return false;
                    var e = Peek(s, ref p);
                    p++;
                    if (e == close) return true;
                    if (e != ',') return false;
                }
            }
            case (byte)'n': return Literal(s, ref p, "null"u8);
            case (byte)'t': return Literal(s, ref p, "true"u8);
            case (byte)'f': return Literal(s, ref p, "false"u8);
            default:
                return Number(s, ref p, out _);
        }
    }

    private static bool Literal(ReadOnlySpan<byte> s, ref int p, ReadOnlySpan<byte> word)
    {
        if (!s[p..].StartsWith(word)) return false;
        p += word.Length;
        return true;
    }

    /// <summary>The next byte after whitespace (0 at the end), with <paramref name="p"/> on it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static byte Peek(ReadOnlySpan<byte> s, ref int p)
    {
        while (p < s.Length)
        {
            var c = s[p];
            if (c is not ((byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n')) return c;
            p++;
        }
        return 0;
    }

    private static bool Expect(ReadOnlySpan<byte> s, ref int p, byte b)
    {
        if (Peek(s, ref p) != b) return false;
        p++;
        return true;
    }
}
