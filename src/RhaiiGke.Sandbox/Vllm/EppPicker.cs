
namespace RhaiiGke.Sandbox.Vllm;

/// <summary>
/// Picks a replica like the GIE/llm-d EPP's default scheduler: the approximate prefix-cache scorer
/// (prompt hashed in 64-character blocks chained from the model name, at most 256 blocks, an LRU index
/// of 31,250 blocks per pod, score = matched ÷ total blocks) weighted 3, the queue scorer (min-max of
/// waiting requests) weighted 2 and the KV-cache utilization scorer weighted 2. Ties break at random.
/// </summary>
internal sealed class EppPicker
{
    public const int BlockChars = 64;
    public const int MaxBlocks = 256;
    public const int IndexCapacity = 31_250;
    private readonly InferencePickerMode _mode;
    private readonly ulong _seed;
    private readonly BlockLru[] _index;
    private readonly Random _rng;
    private int _rr = -1;
    private long _lookups, _hitBlocks, _totalBlocks;

    public EppPicker(InferencePickerMode mode, string model, int replicas, int seed)
    {
        _mode = mode;
        _seed = SimTokenizer.Hash(model);
        _index = Enumerable.Range(0, replicas).Select(_ => new BlockLru(IndexCapacity)).ToArray();
        _rng = new Random(seed);
    }

    public long Lookups => Interlocked.Read(ref _lookups);
    public double HitRatio { get { var t = Interlocked.Read(ref _totalBlocks); return t == 0 ? 0 : (double)Interlocked.Read(ref _hitBlocks) / t; } }
    public int IndexSize => _index.Sum(i => i.Count);

    public static List<ulong> Blocks(string prompt, ulong seed)
    {
        var n = Math.Min(prompt.Length / BlockChars, MaxBlocks);
        var list = new List<ulong>(n);
        var parent = seed;
        for (var b = 0; b < n; b++)
        {
            parent = SimTokenizer.Scramble(parent ^ SimTokenizer.Hash(prompt.AsSpan(b * BlockChars, BlockChars)));
            list.Add(parent);
        }
        return list;
    }

    public int Pick(string prompt, IReadOnlyList<VllmReplica> replicas)
    {
        if (replicas.Count == 1) return 0;
        switch (_mode)
        {
            case InferencePickerMode.RoundRobin:
                return (int)((uint)Interlocked.Increment(ref _rr) % (uint)replicas.Count);
            case InferencePickerMode.Random:
                lock (_rng) return _rng.Next(replicas.Count);
        }
        var blocks = Blocks(prompt, _seed);
        var minQ = replicas.Min(r => r.Waiting);
        var maxQ = replicas.Max(r => r.Waiting);
        var best = new List<int>(replicas.Count);
        var bestScore = double.MinValue;
        var bestMatched = 0;
        for (var i = 0; i < replicas.Count; i++)
        {
            var matched = blocks.Count == 0 ? 0 : _index[i].Match(blocks, blocks.Count);
            var prefix = blocks.Count == 0 ? 0 : (double)matched / blocks.Count;
            var queue = maxQ == minQ ? 1 : (double)(maxQ - replicas[i].Waiting) / (maxQ - minQ);
            var kv = 1 - replicas[i].KvUsage;
            var score = 3 * prefix + 2 * queue + 2 * kv;
            if (score > bestScore + 1e-9) { bestScore = score; best.Clear(); best.Add(i); bestMatched = matched; }
            else if (Math.Abs(score - bestScore) <= 1e-9) best.Add(i);
        }
        int pick;
        lock (_rng) pick = best[_rng.Next(best.Count)];
        if (blocks.Count > 0)
        {
            _index[pick].MatchAndInsert(blocks, 0);
            Interlocked.Increment(ref _lookups);
            Interlocked.Add(ref _hitBlocks, bestMatched);
            Interlocked.Add(ref _totalBlocks, blocks.Count);
        }
        return pick;
    }

    public void Clear()
    {
        foreach (var i in _index) i.Clear();
    }
}
