using System.Text;
using RhaiiGke.Engine.Inference;
using Xunit;

namespace RhaiiGke.Tests.Inference;

/// <summary>
/// The two shortcuts of the benchmark's stream reading against the long way: a chunk read against the
/// previous chunk of its stream (CompletionObserver's template) must record exactly what Utf8JsonReader
/// records for it, and the SSE splitter's one-line path must cut a stream into the same events as its
/// general path, however the stream is split into reads.
/// </summary>
public sealed class StreamReadingTests
{
    private const string Model = "Qwen/Qwen2.5-3B-Instruct";

    private static string Completion(string id, string text, string finish = "null", string usage = "null") =>
        $$"""{"id":"{{id}}","object":"text_completion","created":1,"model":"{{Model}}","choices":[{"index":0,"text":"{{text}}","logprobs":null,"finish_reason":{{finish}},"stop_reason":null}],"usage":{{usage}}}""";

    private static string Chat(string id, string content) =>
        $$"""{"id":"{{id}}","object":"chat.completion.chunk","created":1,"model":"{{Model}}","choices":[{"index":0,"delta":{"content":"{{content}}"},"logprobs":null,"finish_reason":null}]}""";

    private static string State(CompletionObserver o) =>
        $"choices={o.ChoiceChunks} content={o.ContentChunks} first={o.FirstContentAt} last={o.LastChoiceAt} times={string.Join(",", o.ContentTimes)} " +
        $"role={o.RoleSeen} finish={o.FinishReason} usage={o.UsageChunks} prompt={o.PromptTokens} completion={o.CompletionTokens} cached={o.CachedTokens} error={o.Error is not null}";

    /// <summary>Feeds the chunks to an observer with every shortcut on and to one that reads each with Utf8JsonReader; the two must agree after every chunk.</summary>
    private static int Compare(IEnumerable<byte[]> chunks)
    {
        // Shapes are remembered per thread: start with none, so that the counts below are this stream's.
        CompletionObserver.ForgetTemplates();
        var fast = new CompletionObserver { Status = 200 };
        var full = new CompletionObserver { Status = 200 };
        var ts = 100L;
        foreach (var c in chunks)
        {
            ts += 7;
            fast.OnEvent(c, ts);
            full.ParseFull(c, ts);
            Assert.True(State(fast) == State(full), $"after {Encoding.UTF8.GetString(c)}\nfast: {State(fast)}\nfull: {State(full)}");
        }
        return fast.TemplateHits;
    }

    [Fact]
    public void AStreamsChunksAreReadAgainstTheFirstAndRecordedAsTheFullParserRecordsThem()
    {
        var words = new[] { " one", " two", "", " h\u00e9llo", " \u4e16\u754c", " three", "x", " a much longer word than the others" };
        var stream = words.Select(w => Completion("cmpl-1", w)).Append(Completion("cmpl-1", " end", "\"length\""))
            .Append("""{"id":"cmpl-1","object":"text_completion","created":1,"model":"Qwen/Qwen2.5-3B-Instruct","choices":[],"usage":{"prompt_tokens":3,"total_tokens":12,"completion_tokens":9}}""")
            .Select(Encoding.UTF8.GetBytes).ToList();
        var hits = Compare(stream);
        // Every content chunk after the first, the empty one too (recorded as no content), took the shortcut;
        // the finish chunk (other bytes after the text) and the usage chunk did not.
        Assert.Equal(words.Length - 1, hits);

        var chat = new[] { "Hi", " there", "", "!" }.Select(w => Encoding.UTF8.GetBytes(Chat("chatcmpl-9", w))).ToList();
        Assert.Equal(3, Compare(chat));

        // The next request on the connection (another id, which is free) is read against the first request's
        // chunks throughout: its content chunks, its last chunk and its usage chunk.
        var next = stream.Select(c => Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(c).Replace("cmpl-1", "cmpl-20002"))).ToList();
        Assert.Equal(words.Length - 1 + next.Count, Compare(stream.Concat(next)));
        // Other bytes than the id and the text (here created) make a new shape: read the long way once.
        var later = stream.Select(c => Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(c).Replace("\"created\":1", "\"created\":2"))).ToList();
        Assert.Equal(2 * (words.Length - 1), Compare(stream.Concat(later)));
    }

    [Fact]
    public void TextsTheShortcutCannotVouchForAreLeftToTheScanners()
    {
        // Escapes, raw control characters and broken UTF-8 in the text, a quote that moves the structure, and
        // texts that reach into the bytes around them: each must be read as the full parser reads it (mostly an
        // error or another shape), never taken for a plain text.
        var first = Encoding.UTF8.GetBytes(Completion("cmpl-1", " one"));
        var odd = new List<byte[]>
        {
            Encoding.UTF8.GetBytes(Completion("cmpl-1", "a\\\"b")),
            Encoding.UTF8.GetBytes(Completion("cmpl-1", "a\\u00e9")),
            Encoding.UTF8.GetBytes(Completion("cmpl-1", "a\\")),
            Encoding.UTF8.GetBytes(Completion("cmpl-1", "a\"b")),
            Encoding.UTF8.GetBytes(Completion("cmpl-1", "a\",\"text\":\"b")),
            Encoding.UTF8.GetBytes(Completion("cmpl-1", "a\tb")),
            Encoding.UTF8.GetBytes(Completion("cmpl-1", "a\u0001b")),
            Encoding.UTF8.GetBytes(Completion("cmpl-1", "a\",\"finish_reason\":\"stop")),
        };
        var broken = Encoding.UTF8.GetBytes(Completion("cmpl-1", "aXb"));
        broken[Array.IndexOf(broken, (byte)'X')] = 0xC3; // a lead byte with no continuation
        odd.Add(broken);
        foreach (var o in odd)
            Assert.Equal(0, Compare([first, o]));
    }

    [Fact]
    public void DamagedFollowersOfAGoodChunkAreReadAsTheFullParserReadsThem()
    {
        // Seeded mutations of the chunks that follow a good first chunk: the bytes before, inside and after
        // the text replaced, removed or inserted. Many still take the shortcut; all must agree.
        var rng = new Random(42);
        var alphabet = "\"{}[],:\\ 0123456789.eE+-abcdefghijklmnopqrstuvwxyz\t\n\u0001"u8.ToArray().Concat(new byte[] { 0, 0x80, 0xC3, 0xFF }).ToArray();
        var templates = new[] { Completion("cmpl-7", " seven"), Chat("chatcmpl-7", " seven") };
        var hits = 0;
        foreach (var t in templates)
        {
            var first = Encoding.UTF8.GetBytes(t);
            var textAt = t.IndexOf("seven", StringComparison.Ordinal);
            for (var i = 0; i < 4000; i++)
            {
                var b = first.ToList();
                for (var m = rng.Next(1, 3); m > 0; m--)
                {
                    // Half the mutations land in or next to the text, where the shortcut reads.
                    var at = rng.Next(2) == 0 ? Math.Clamp(textAt - 2 + rng.Next(10), 0, b.Count - 1) : rng.Next(b.Count);
                    switch (rng.Next(3))
                    {
                        case 0: b[at] = alphabet[rng.Next(alphabet.Length)]; break;
                        case 1: b.RemoveAt(at); break;
                        default: b.Insert(at, alphabet[rng.Next(alphabet.Length)]); break;
                    }
                }
                hits += Compare([first, b.ToArray()]);
            }
        }
        Assert.True(hits > 1000, $"only {hits} damaged chunks took the shortcut"); // the shortcut was exercised
    }

    private sealed class Recorder : IResponseSink
    {
        public readonly List<string> Events = [];
        public void OnHead(int status, string? contentType, string? pod, long timestamp) { }
        public void OnEvent(ReadOnlySpan<byte> data, long timestamp) => Events.Add(Convert.ToHexString(data));
        public void OnBody(ReadOnlySpan<byte> body, long timestamp) { }
    }

    [Fact]
    public void TheSplittersOneLinePathCutsEveryStreamAsTheGeneralPathDoes()
    {
        var rng = new Random(7);
        string[] pieces =
        [
            "data: {\"a\":1}\n\n", "data:{\"b\":2}\n\n", "data: x\r\n\r\n", "data: one\ndata: two\n\n", ": comment\n\n",
            "event: ping\ndata: p\n\n", "data: [DONE]\n\n", "data: cr\r\ndata: lf\n\n", "id: 3\n\n", "data: \n\n",
            "data: tail-without-separator", "\n", "\r\n", "data: a\rb\n\n", "data: \u00e9\n\n",
        ];
        var total = 0;
        for (var round = 0; round < 3000; round++)
        {
            var text = string.Concat(Enumerable.Range(0, rng.Next(1, 8)).Select(_ => pieces[rng.Next(pieces.Length)]));
            var bytes = Encoding.UTF8.GetBytes(text);
            var fast = new SseSplitter();
            var general = new SseSplitter { OneLinePath = false };
            var a = new Recorder();
            var b = new Recorder();
            // The same bytes in random reads, as a socket hands them over.
            for (var at = 0; at < bytes.Length;)
            {
                var n = Math.Min(bytes.Length - at, rng.Next(1, 40));
                fast.Push(bytes.AsSpan(at, n), a, 0);
                general.Push(bytes.AsSpan(at, n), b, 0);
                at += n;
            }
            fast.Flush(a, 0);
            general.Flush(b, 0);
            Assert.True(a.Events.SequenceEqual(b.Events), $"stream {text.Replace("\r", "\\r").Replace("\n", "\\n")}\none-line: {string.Join("|", a.Events)}\ngeneral:  {string.Join("|", b.Events)}");
            total += a.Events.Count;
        }
        Assert.True(total > 5000, $"only {total} events were compared");
    }
}
