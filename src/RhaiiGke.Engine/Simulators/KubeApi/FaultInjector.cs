namespace RhaiiGke.Engine.Simulators.KubeApi;

/// <summary>Decides, per resource request, whether to inject a fault (5xx, 429, conflict, delay, dropped watch).</summary>
internal sealed class FaultInjector
{
    private readonly object _gate = new();
    private Random _random;
    private KubeFaultOptions _options;
    private long _server, _throttle, _conflict, _slow, _drops;

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

    public void Reset()
    {
        Interlocked.Exchange(ref _server, 0);
        Interlocked.Exchange(ref _throttle, 0);
        Interlocked.Exchange(ref _conflict, 0);
        Interlocked.Exchange(ref _slow, 0);
        Interlocked.Exchange(ref _drops, 0);
    }

    public void CountDrop() => Interlocked.Increment(ref _drops);

    public readonly record struct Decision(TimeSpan Delay, StatusError? Error, string? Name, bool DropWatch);

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
        var delay = TimeSpan.Zero;
        if (r1 < o.SlowResponseRate) { delay = o.SlowResponseDelay; Interlocked.Increment(ref _slow); }
        if (verb == "watch")
            return new Decision(delay, null, null, r2 < o.WatchDropRate);
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
