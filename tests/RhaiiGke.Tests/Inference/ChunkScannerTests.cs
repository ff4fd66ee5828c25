using System.Text;
using RhaiiGke.Engine.Inference;
using Xunit;

namespace RhaiiGke.Tests.Inference;

/// <summary>
/// The benchmark's fast chunk scanner against Utf8JsonReader (the observer's full parser): wherever the scanner
/// answers, the full parser must record exactly the same; wherever it is unsure it declines.
/// </summary>
public sealed class ChunkScannerTests
{

    public static readonly string[] Corpus =
    [
        // vLLM completions stream (what the simulator and the bench's nginx send), its usage chunk, a finish.
        """{"id":"cmpl-1","object":"text_completion","created":1,"model":"Qwen/Qwen2.5-3B-Instruct","choices":[{"index":0,"text":" one","logprobs":null,"finish_reason":null,"stop_reason":null}],"usage":null}""",
        """{"id":"cmpl-1","object":"text_completion","created":1,"model":"Qwen/Qwen2.5-3B-Instruct","choices":[{"index":0,"text":" sixteen","logprobs":null,"finish_reason":"length","stop_reason":null}],"usage":null}""",
        """{"id":"cmpl-1","object":"text_completion","created":1,"model":"Qwen/Qwen2.5-3B-Instruct","choices":[],"usage":{"prompt_tokens":3,"total_tokens":19,"completion_tokens":16}}""",
        // Chat: the role chunk (empty content), content, continuous usage, stop.
        """{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"Qwen/Qwen2.5-3B-Instruct","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}""",
        """{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"Qwen/Qwen2.5-3B-Instruct","choices":[{"index":0,"delta":{"content":" a\"b\\n\u00e9 h\u00e9llo"},"logprobs":null,"finish_reason":null}],"usage":{"prompt_tokens":5,"total_tokens":6,"completion_tokens":1}}""",
        """{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"Qwen/Qwen2.5-3B-Instruct","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}""",
        // Whole bodies: completions and chat, with cached tokens in prompt_tokens_details.
        """{"id":"cmpl-b","object":"text_completion","created":1,"model":"Qwen/Qwen2.5-3B-Instruct","choices":[{"index":0,"text":" one two three","logprobs":null,"finish_reason":"length","stop_reason":null}],"usage":{"prompt_tokens":14,"total_tokens":22,"completion_tokens":8,"prompt_tokens_details":{"cached_tokens":4}}}""",
        """{"id":"chatcmpl-b","object":"chat.completion","created":1,"model":"Qwen/Qwen2.5-3B-Instruct","choices":[{"index":0,"message":{"role":"assistant","content":"Hi there","tool_calls":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11,"prompt_tokens_details":null}}""",
        // Pretty-printed, logprobs with nested arrays, numbers of every form, an unknown finish reason.
        "{\n  \"choices\" : [ { \"index\" : 0 , \"text\" : \"x\" , \"logprobs\" : {\"tokens\":[\"x\"],\"top_logprobs\":[{\"x\":-0.25e-1}],\"n\":[1,2.5,-0,1E+2]} , \"finish_reason\" : \"abort\" } ] ,\r\n \"usage\" : { \"prompt_tokens\" : 7 } }\n",
        """{"choices":[1,"s",null,{"text":null,"finish_reason":null},{"delta":{"content":null,"role":"assistant"}}],"created":true,"flag":false}""",
        """{}""",
        """{"choices":null,"usage":null}""",
        // What the scanner leaves to the full parser.
        """{"error":{"message":"model not found","type":"NotFoundError"}}""",
        """{"choices":[{"text":"a"}],"choices":[{"text":"b"}]}""",
        """{"choices":[{"text":"a","finish_reason":"st\u006fp"}]}""",
        """{"ch\u006fices":[{"text":"a"}]}""",
        """{"usage":{"prompt_tokens":1.5}}""",
        """{"usage":{"prompt_tokens":99999999999}}""",
        """{"usage":{"prompt_tokens":[1]}}""",
        """[{"choices":[]}]""",
    ];

    private static CompletionObserver Full(byte[] json)
    {
        var o = new CompletionObserver { Status = 200 };
        o.ParseFull(json, 42);
        return o;
    }

    /// <summary>When the scanner answers, what the observer keeps, and that the full parser keeps the same without error.</summary>
    private static bool Agree(byte[] json, out string why)
    {
        why = "";
        if (!ChunkScanner.TryScan(json, out var r)) return true;
        var fast = new CompletionObserver { Status = 200 };
        fast.Apply(r, 42);
        CompletionObserver full;
        try { full = Full(json); }
        catch (Exception e) { why = $"the scanner read it, the full parser threw {e.GetType().Name}"; return false; }
        if (full.Error is not null) { why = $"the scanner read it, the full parser says: {full.Error}"; return false; }
        string State(CompletionObserver o) => $"choices={o.ChoiceChunks} content={o.ContentChunks} first={o.FirstContentAt} last={o.LastChoiceAt} times={string.Join(",", o.ContentTimes)} " +
            $"role={o.RoleSeen} finish={o.FinishReason} usage={o.UsageChunks} prompt={o.PromptTokens} completion={o.CompletionTokens} cached={o.CachedTokens}";
        if (State(fast) == State(full)) return true;
        why = $"scanner: {State(fast)}\nfull:    {State(full)}";
        return false;
    }

    [Fact]
    public void TheScannerReadsTheUsualChunksAndAgreesWithTheFullParser()
    {
        foreach (var s in Corpus)
        {
            var json = Encoding.UTF8.GetBytes(s);
            Assert.True(Agree(json, out var why), $"{s}\n{why}");
        }
        // The shapes servers send are read by the scanner, not left to the full parser.
        Assert.All(Corpus.Take(12), s => Assert.True(ChunkScanner.TryScan(Encoding.UTF8.GetBytes(s), out _), s));
        Assert.All(Corpus.Skip(12), s => Assert.False(ChunkScanner.TryScan(Encoding.UTF8.GetBytes(s), out _), s));
        Assert.True(ChunkScanner.TryScan(Encoding.UTF8.GetBytes(Corpus[6]), out var body));
        Assert.Equal((true, true, "length", 14, 8, 4), (body.AnyChoice, body.Content, body.FinishReason, body.PromptTokens, body.CompletionTokens, body.CachedTokens));
        Assert.True(ChunkScanner.TryScan(Encoding.UTF8.GetBytes(Corpus[3]), out var role));
        Assert.Equal((true, false, true), (role.AnyChoice, role.Content, role.RoleSeen));
    }

    [Fact]
    public void DamagedChunksAreEitherReadAlikeOrLeftToTheFullParser()
    {
        // Seeded mutations of every chunk: a byte replaced, removed or inserted, or the chunk cut short.
        var rng = new Random(15);
        var bytes = "\"{}[],:\\ 0123456789.eE+-abcdefghijklmnopqrstuvwxyz\t\n\u0001"u8.ToArray().Concat(new byte[] { 0, 0x80, 0xC3, 0xFF }).ToArray();
        var read = 0;
        foreach (var s in Corpus)
        {
            var orig = Encoding.UTF8.GetBytes(s);
            for (var i = 0; i < 3000; i++)
            {
                var b = orig.ToList();
                for (var m = rng.Next(1, 3); m > 0 && b.Count > 0; m--)
                {
                    var at = rng.Next(b.Count);
                    switch (rng.Next(4))
                    {
                        case 0: b[at] = bytes[rng.Next(bytes.Length)]; break;
                        case 1: b.RemoveAt(at); break;
                        case 2: b.Insert(at, bytes[rng.Next(bytes.Length)]); break;
                        default: b.RemoveRange(at, b.Count - at); break;
                    }
                }
                var json = b.ToArray();
                if (ChunkScanner.TryScan(json, out _)) read++;
                Assert.True(Agree(json, out var why), $"{Encoding.UTF8.GetString(json)}\n{why}");
            }
        }
        Assert.True(read > 1000, $"only {read} damaged chunks were still readable"); // the comparison ran on many
    }
}
