namespace RhaiiGke.Engine.Inference;

/// <summary>
/// The word-level tokenizer shared by the simulator and the benchmark's synthetic datasets: a run of
/// letters or digits is one token, any other non-space character is one token, whitespace separates.
/// It is what llm-d-inference-sim calls its fast regex tokenizer for dummy models: cheap, and exact for
/// text made of words from <see cref="Vocabulary"/>, so a prompt of N generated words is N tokens.
/// Real servers report their own counts in <c>usage</c>, and the benchmark uses those.
/// </summary>
public static class InferenceText
{
    /// <summary>Common English words, used for generated prompts and simulated answers.</summary>
    public static readonly string[] Vocabulary =
    [
        "the", "of", "and", "to", "in", "is", "that", "for", "it", "as", "was", "with", "be", "by", "on", "not", "he", "this",
        "are", "or", "his", "from", "at", "which", "but", "have", "an", "had", "they", "you", "were", "their", "one", "all",
        "we", "can", "her", "has", "there", "been", "if", "more", "when", "will", "would", "who", "so", "no", "she", "other",
        "its", "may", "these", "about", "than", "into", "could", "time", "only", "new", "some", "them", "people", "two",
        "like", "then", "first", "any", "now", "such", "over", "also", "after", "most", "many", "before", "must", "through",
        "years", "where", "much", "your", "way", "well", "down", "should", "because", "each", "just", "those", "how", "too",
        "little", "state", "good", "very", "make", "world", "still", "own", "see", "men", "work", "long", "get", "here",
        "between", "both", "life", "being", "under", "never", "day", "same", "another", "know", "while", "last", "might",
        "great", "old", "year", "off", "come", "since", "against", "go", "came", "right", "used", "take", "three", "tensor",
        "model", "cluster", "token", "cache", "prefix", "router", "gateway", "replica", "latency", "stream",
    ];

    private const ulong FnvOffset = 14695981039346656037UL;
    private const ulong FnvPrime = 1099511628211UL;

    /// <summary>Number of tokens in <paramref name="text"/>.</summary>
    public static int CountTokens(ReadOnlySpan<char> text)
    {
        var n = 0;
        var inWord = false;
        foreach (var c in text)
        {
            if (char.IsLetterOrDigit(c)) { if (!inWord) { n++; inWord = true; } }
            else { inWord = false; if (!char.IsWhiteSpace(c)) n++; }
        }
        return n;
    }

    /// <summary>Appends one 64-bit hash per token (FNV-1a of the token's characters).</summary>
    public static void TokenHashes(ReadOnlySpan<char> text, List<ulong> into)
    {
        var h = FnvOffset;
        var inWord = false;
        foreach (var c in text)
        {
            if (char.IsLetterOrDigit(c))
            {
                if (!inWord) { h = FnvOffset; inWord = true; }
                h = (h ^ c) * FnvPrime;
                continue;
            }
            if (inWord) { into.Add(h); inWord = false; }
            if (!char.IsWhiteSpace(c)) into.Add((FnvOffset ^ c) * FnvPrime);
        }
        if (inWord) into.Add(h);
    }

    /// <summary>Chains block hashes like vLLM's prefix cache: each full block's hash covers its tokens and its parent.</summary>
    public static void BlockHashes(List<ulong> tokenHashes, int blockSize, ulong seed, List<ulong> into)
    {
        var parent = seed;
        for (var b = 0; b + blockSize <= tokenHashes.Count; b += blockSize)
        {
            var h = parent ^ 0x9E3779B97F4A7C15UL;
            for (var i = b; i < b + blockSize; i++) h = Mix(h ^ tokenHashes[i]);
            into.Add(h);
            parent = h;
        }
    }

    /// <summary>Stable 64-bit hash of a string (FNV-1a over UTF-16 code units).</summary>
    public static ulong Hash(ReadOnlySpan<char> s)
    {
        var h = FnvOffset;
        foreach (var c in s) h = (h ^ c) * FnvPrime;
        return h;
    }

    public static ulong Mix(ulong x)
    {
        x ^= x >> 33; x *= 0xff51afd7ed558ccdUL;
        x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53UL;
        x ^= x >> 33;
        return x;
    }

    /// <summary>Exactly <paramref name="tokens"/> words from the vocabulary, separated by spaces.</summary>
    public static string Words(Random rng, int tokens)
    {
        if (tokens <= 0) return "";
        var sb = new System.Text.StringBuilder(tokens * 6);
        for (var i = 0; i < tokens; i++)
        {
            if (i > 0) sb.Append(' ');
            sb.Append(Vocabulary[rng.Next(Vocabulary.Length)]);
        }
        return sb.ToString();
    }
}
