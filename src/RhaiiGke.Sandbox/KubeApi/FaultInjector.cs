namespace RhaiiGke.Sandbox.KubeApi;

/// <summary>Decides, per resource request, whether to inject a fault (5xx, 429, conflict, delay, dropped watch, expired watch resume).</summary>
internal sealed class FaultInjector
{
    private readonly object _gate = new();
    private Random _random;
    private KubeFaultOptions _options;
    private long _server, _throttle, _conflict, _slow, _drops, _expired;

    public FaultInjector(KubeFaultOptions options)
    {
        _options = options;
        _random = options.Seed is { } s ? new Random(s) : new Random();
    }

    public KubeFaultOptions Options => _options;

    public void Set(KubeFaultOptions options)
    {
        lock (_gate)
        {
            _options = options;
            _random = options.Seed is { } s ? new Random(s) : new Random();
        }
    }

    public long ServerErrors => Interlocked.Read(ref _server);
    public long Throttles => Interlocked.Read(ref _throttle);
    public long Conflicts => Interlocked.Read(ref _conflict);
    public long Slow => Interlocked.Read(ref _slow);
    public long Drops => Interlocked.Read(ref _drops);
    public long Expired => Interlocked.Read(ref _expired);

    public void Reset()
    {
        Interlocked.Exchange(ref _server, 0);
        Interlocked.Exchange(ref _throttle, 0);
        Interlocked.Exchange(ref _conflict, 0);
        Interlocked.Exchange(ref _slow, 0);
        Interlocked.Exchange(ref _drops, 0);
        Interlocked.Exchange(ref _expired, 0);
    }

    public void CountDrop() => Interlocked.Increment(ref _drops);
    public void CountExpired() => Interlocked.Increment(ref _expired);

    /// <summary>
    /// What to do with one request. For watches: <see cref="DropWatchAfter"/> (when set) cuts the stream that long after
    /// it opened, a random point up to <see cref="KubeFaultOptions.WatchDropAfter"/> so that short watches are cut too;
    /// <see cref="ExpireWatch"/> answers a resume from a resourceVersion with 410 Expired, as a server does after compaction.
    /// </summary>
    public readonly record struct Decision(TimeSpan Delay, StatusError? Error, string? Name, bool DropWatch, TimeSpan DropWatchAfter = default, bool ExpireWatch = false);

    public Decision Decide(string verb)
    {
        double r1, r2, r3;
        KubeFaultOptions o;
        lock (_gate)
        {
            o = _options;
            if (!o.Any) return default;
            r1 = _random.NextDouble();
            r2 = _random.NextDouble();
            r3 = _random.NextDouble();
        }
        if (verb == "watch")
        {
            // a watch is never answered 5xx/429 here: it is cut mid-way or told its resume point expired
            var expire = r3 < o.WatchExpireRate;
            var drop = !expire && r2 < o.WatchDropRate;
            var after = TimeSpan.FromTicks((long)(o.WatchDropAfter.Ticks * (0.05 + 0.95 * r1)));
            return new Decision(TimeSpan.Zero, null, expire ? "watch-expired" : drop ? "watch-dropped" : null, drop, after, expire);
        }
        var delay = TimeSpan.Zero;
        if (r1 < o.SlowResponseRate) { delay = o.SlowResponseDelay; Interlocked.Increment(ref _slow); }
        var x = r2;
        if (x < o.ServerErrorRate)
        {
            Interlocked.Increment(ref _server);
            var pick = (int)(r3 * 3);
            var err = pick switch
            {
                0 => StatusError.Internal("etcdserver: request timed out"),
                1 => new StatusError(503, "ServiceUnavailable", "the server is currently unable to handle the request") { RetryAfterSeconds = o.RetryAfterSeconds },
                _ => new StatusError(504, "Timeout", "the server was unable to return a response in the time allotted, but may still be processing the request") { RetryAfterSeconds = o.RetryAfterSeconds },
            };
            return new Decision(delay, err, $"server-error-{err.Code}", false);
        }
        x -= o.ServerErrorRate;
        if (x < o.TooManyRequestsRate)
        {
            Interlocked.Increment(ref _throttle);
            return new Decision(delay, new StatusError(429, "TooManyRequests", "Too many requests, please try again later.") { RetryAfterSeconds = o.RetryAfterSeconds }, "too-many-requests", false);
        }
        x -= o.TooManyRequestsRate;
        if (x < o.ConflictRate && verb is "update" or "patch" or "apply")
        {
            Interlocked.Increment(ref _conflict);
            return new Decision(delay, new StatusError(409, "Conflict", "conflict"), "conflict", false);
        }
        return new Decision(delay, null, null, false);
    }
}
