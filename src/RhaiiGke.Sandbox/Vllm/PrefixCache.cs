namespace RhaiiGke.Sandbox.Vllm;

/// <summary>An LRU set of block hashes: a replica's KV blocks, or the EPP's per-pod prefix index.</summary>
internal sealed class BlockLru
{
    private readonly int _capacity;
    private readonly Dictionary<ulong, LinkedListNode<ulong>> _map;
    private readonly LinkedList<ulong> _order = new();
    private readonly object _lock = new();

    public BlockLru(int capacity)
    {
        _capacity = Math.Max(1, capacity);
        _map = new Dictionary<ulong, LinkedListNode<ulong>>(Math.Min(_capacity, 65536));
    }

    public int Capacity => _capacity;

    public int Count { get { lock (_lock) return _map.Count; } }

    /// <summary>Leading blocks (at most <paramref name="eligible"/>) already present, without changing anything.</summary>
    public int Match(List<ulong> blocks, int eligible)
    {
        lock (_lock)
        {
            var n = 0;
            while (n < eligible && n < blocks.Count && _map.ContainsKey(blocks[n])) n++;
            return n;
        }
    }

    /// <summary>Counts the leading hits (up to <paramref name="eligible"/>), then marks every block as most recently used.</summary>
    public int MatchAndInsert(List<ulong> blocks, int eligible)
    {
        lock (_lock)
        {
            var n = 0;
            while (n < eligible && n < blocks.Count && _map.ContainsKey(blocks[n])) n++;
            foreach (var b in blocks)
            {
                if (_map.TryGetValue(b, out var node))
                {
                    _order.Remove(node);
                    _order.AddFirst(node);
                    continue;
                }
                if (_map.Count >= _capacity)
                {
                    var last = _order.Last!;
                    _order.RemoveLast();
                    _map.Remove(last.Value);
                }
                _map[b] = _order.AddFirst(b);
            }
            return n;
        }
    }

    public void Clear()
    {
        lock (_lock) { _map.Clear(); _order.Clear(); }
    }
}
