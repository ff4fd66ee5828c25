namespace RhaiiGke.Sandbox.Vllm;

/// <summary>
/// The simulated model's tokenizer, after llm-d-inference-sim's regex tokenizer for dummy models: a run of
/// letters or digits is one token, every other non-blank character is one token of its own, blanks only
/// separate. Token ids are 64-bit hashes of the token text; prefix-cache blocks chain them as vLLM chains
/// its block hashes (each block's hash covers its tokens and its parent's hash).
/// </summary>
internal static class SimTokenizer
{
    /// <summary>The words the simulated model answers with (each one token).</summary>
    public static readonly string[] AnswerWords =
    [
        "a", "about", "accelerator", "after", "all", "also", "an", "and", "answer", "any", "are", "as", "at", "batch", "be",
        "because", "been", "before", "block", "both", "but", "by", "cache", "can", "chip", "cluster", "could", "data", "day",
        "decode", "each", "even", "every", "first", "for", "from", "gateway", "good", "great", "has", "have", "here", "how",
        "if", "in", "into", "is", "it", "its", "just", "kernel", "know", "last", "latency", "layer", "like", "long", "make",
        "many", "may", "memory", "model", "more", "most", "much", "must", "new", "no", "node", "not", "now", "of", "on",
        "one", "only", "or", "other", "our", "out", "over", "pod", "prefill", "prefix", "queue", "replica", "request",
        "right", "route", "same", "see", "serve", "should", "since", "slice", "so", "some", "still", "stream", "such",
        "system", "take", "tensor", "than", "that", "the", "their", "them", "then", "there", "these", "they", "this",
        "through", "time", "to", "token", "two", "under", "up", "use", "very", "was", "way", "we", "well", "were", "what",
        "when", "where", "which", "while", "will", "with", "work", "would", "year", "you",
    ];

    /// <summary>Appends the id of every token of <paramref name="text"/> to <paramref name="ids"/>.</summary>
    public static void Tokenize(ReadOnlySpan<char> text, List<ulong> ids)
    {
        var i = 0;
        while (i < text.Length)
        {
            var c = text[i];
            if (char.IsWhiteSpace(c)) { i++; continue; }
            var start = i++;
            if (char.IsLetterOrDigit(c))
                while (i < text.Length && char.IsLetterOrDigit(text[i])) i++;
            ids.Add(Hash(text[start..i]));
        }
    }

    /// <summary>One hash per full block of <paramref name="blockSize"/> token ids, each chained to the previous block's.</summary>
    public static void Blocks(List<ulong> ids, int blockSize, ulong seed, List<ulong> blocks)
    {
        var parent = seed;
        for (var end = blockSize; end <= ids.Count; end += blockSize)
        {
            var h = Scramble(parent + 0x632BE59BD9B4E019UL);
            for (var t = end - blockSize; t < end; t++) h = Scramble(h ^ ids[t]);
            blocks.Add(h);
            parent = h;
        }
    }

    /// <summary>A stable 64-bit hash of some text (djb2 variant over UTF-16, then scrambled).</summary>
    public static ulong Hash(ReadOnlySpan<char> text)
    {
        ulong h = 5381;
        foreach (var c in text) h = (h << 5) + h + c;
        return Scramble(h ^ (ulong)text.Length);
    }

    /// <summary>SplitMix64's finaliser.</summary>
    public static ulong Scramble(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
