using System.Text;

namespace RhaiiGke.Sandbox.KubeApi.DataPlane;

/// <summary>
/// The llm-d EPP's prefix-cache scorer in miniature: the prompt is cut into fixed-size blocks hashed in a
/// chain, an LRU index remembers which pod served each block, and a request goes to the candidate holding
/// the longest run of its leading blocks (ties: fewest requests in flight, then a stable hash).
/// </summary>
internal sealed class PrefixPicker
{
    private const int BlockChars = 64;
    private const int Capacity = 50_000;
    private readonly Dictionary<ulong, (string Pod, LinkedListNode<ulong> Node)> _index = new();
    private readonly LinkedList<ulong> _lru = new();
    private readonly Dictionary<string, int> _inflight = new(StringComparer.Ordinal);
    private readonly object _gate = new();

    public string Pick(string prompt, IReadOnlyList<string> pods)
    {
        var blocks = Blocks(prompt);
        lock (_gate)
        {
            var score = pods.ToDictionary(p => p, _ => 0, StringComparer.Ordinal);
            var alive = pods.ToHashSet(StringComparer.Ordinal);
            foreach (var h in blocks)
            {
                if (!_index.TryGetValue(h, out var hit) || !alive.Contains(hit.Pod)) break;
                score[hit.Pod]++;
            }
            var best = pods.OrderByDescending(p => score[p]).ThenBy(p => _inflight.GetValueOrDefault(p))
                .ThenBy(p => (uint)HashCode.Combine(p, blocks.Count > 0 ? blocks[0] : 0UL)).First();
            foreach (var h in blocks)
            {
                if (_index.TryGetValue(h, out var old)) _lru.Remove(old.Node);
                _index[h] = (best, _lru.AddFirst(h));
            }
            while (_index.Count > Capacity && _lru.Last is { } last) { _index.Remove(last.Value); _lru.RemoveLast(); }
            _inflight[best] = _inflight.GetValueOrDefault(best) + 1;
            return best;
        }
    }

    public void Done(string pod)
    {
        lock (_gate) if (_inflight.TryGetValue(pod, out var n)) _inflight[pod] = Math.Max(0, n - 1);
    }

    private static List<ulong> Blocks(string prompt)
    {
        var list = new List<ulong>();
        var bytes = Encoding.UTF8.GetBytes(prompt);
        ulong prev = 0;
        for (var i = 0; i + BlockChars <= bytes.Length; i += BlockChars)
        {
            // FNV-1a over the previous block's hash and this block's bytes: a chain, as the EPP hashes blocks
            var h = 14695981039346656037UL ^ prev;
            foreach (var b in bytes.AsSpan(i, BlockChars)) { h ^= b; h *= 1099511628211UL; }
            prev = h;
            list.Add(prev);
        }
        return list;
    }
}
