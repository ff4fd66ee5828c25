using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using System.Threading.Channels;

namespace RhaiiGke.Sandbox.KubeApi.Controllers;

/// <summary>
/// Runs the simulated controllers on one loop: committed changes fan out to every controller's
/// <see cref="SimController.OnEvent"/>; keys are reconciled (deduplicated, optionally after a delay)
/// with the simulator lock held, so controllers see a consistent store.
/// </summary>
internal sealed partial class ControllerManager
{
    private readonly SimCore _core;
    private readonly Channel<object> _queue = Channel.CreateUnbounded<object>(new UnboundedChannelOptions { SingleReader = true });
    /// <summary>
    /// The earliest scheduled reconcile of each (controller, key) and the ticket of the queue item that delivers it. An
    /// item whose ticket is no longer the pending one was superseded by an earlier schedule and is dropped; deciding that
    /// by ticket rather than by comparing due times keeps a reconcile from being lost when a timer fires a few
    /// milliseconds "early" against the wall clock (coarse timer ticks, clock slew).
    /// </summary>
    private readonly ConcurrentDictionary<(SimController, string), (DateTime Due, long Ticket)> _pending = new();
    private long _tickets;
    private readonly CancellationTokenSource _cts = new();
    private readonly List<SimController> _controllers;
    private Task? _loop;
    private int _inflight;
    private long _delayed;

    public ControllerManager(SimCore core)
    {
        _core = core;
        _controllers =
        [
            new CrdController(this), new NamespaceController(this), new GarbageCollector(this),
            new DeploymentController(this), new ReplicaSetController(this), new PodController(this),
            new StatefulSetController(this), new DaemonSetController(this), new JobController(this),
            new EndpointsController(this), new CertManagerController(this), new SailController(this),
            new GatewayController(this), new LwsController(this), new KServeController(this),
        ];
        if (core.Options.GkeGatewayApi) _controllers.Add(new GkeGatewayController(this));
        if (core.Options.DataPlane) _controllers.Add(DataPlane = new DataPlane.DataPlaneController(this));
        if (core.Options.NodeGroups is not null) _controllers.Add(new ClusterAutoscaler(this));
        _controllers.Add(new HpaController(this));
    }

    /// <summary>The simulated data plane (null when the sandbox runs without one): the HPA reads the pods' vLLM gauges from it.</summary>
    internal DataPlane.DataPlaneController? DataPlane { get; }

    public SimCore Core => _core;
    public KubeControllerDelays Delays => _core.Options.Delays;

    public void Start()
    {
        _core.Committed += OnCommitted;
        _loop = Task.Run(Loop);
        lock (_core.Gate)
        {
            // objects that exist before start (bootstrap, seeds) get reconciled once
            foreach (var key in _core.StoreKeys)
                foreach (var o in _core.PeekStore(key))
                    OnCommitted(new WatchEvent(0, "ADDED", key, o.Namespace(), o, null));
        }
    }

    public void Stop()
    {
        _core.Committed -= OnCommitted;
        _cts.Cancel();
        _queue.Writer.TryComplete();
        try { _loop?.Wait(TimeSpan.FromSeconds(2)); } catch (AggregateException) { }
        foreach (var c in _controllers.OfType<IDisposable>()) c.Dispose();
    }

    private void OnCommitted(WatchEvent ev)
    {
        Interlocked.Increment(ref _inflight);
        if (!_queue.Writer.TryWrite(ev)) Interlocked.Decrement(ref _inflight);
    }

    /// <summary>The wall clock schedules are compared on (a test steps it to show that no reconcile depends on it).</summary>
    internal Func<DateTime> Clock { get; set; } = () => DateTime.UtcNow;

    /// <summary>Queues <paramref name="key"/> for <paramref name="c"/> now or after <paramref name="delay"/>; duplicates collapse.</summary>
    public void Enqueue(SimController c, string key, TimeSpan delay = default)
    {
        var due = Clock() + delay;
        if (_pending.TryGetValue((c, key), out var existing) && existing.Due <= due) return;
        var ticket = Interlocked.Increment(ref _tickets);
        _pending[(c, key)] = (due, ticket);
        var item = new Work(c, key, ticket);
        if (delay <= TimeSpan.Zero)
        {
            Interlocked.Increment(ref _inflight);
            if (!_queue.Writer.TryWrite(item)) Interlocked.Decrement(ref _inflight);
            return;
        }
        Interlocked.Increment(ref _delayed);
        _ = Task.Delay(delay, _cts.Token).ContinueWith(t =>
        {
            Interlocked.Decrement(ref _delayed);
            if (t.IsCanceled) return;
            Interlocked.Increment(ref _inflight);
            if (!_queue.Writer.TryWrite(item)) Interlocked.Decrement(ref _inflight);
        }, TaskScheduler.Default);
    }

    private async Task Loop()
    {
        var reader = _queue.Reader;
        try
        {
            while (await reader.WaitToReadAsync(_cts.Token).ConfigureAwait(false))
            {
                while (reader.TryRead(out var item))
                {
                    try
                    {
                        lock (_core.Gate)
                        {
                            if (item is WatchEvent ev)
                            {
                                foreach (var c in _controllers)
                                {
                                    try { c.OnEvent(ev); }
                                    catch (Exception ex) { Record(c, "event " + ev.StoreKey, ex); }
                                }
                            }
                            else if (item is Work work)
                            {
                                var (c, key) = (work.Controller, work.Key);
                                // another schedule replaced this one and brings its own item; with no entry left (a
                                // concurrent removal), reconciling once more is harmless
                                if (_pending.TryGetValue((c, key), out var pending) && pending.Ticket != work.Ticket)
                                    continue;
                                _pending.TryRemove((c, key), out _);
                                try { c.Reconcile(key); }
                                catch (Exception ex)
                                {
                                    // a controller bug or a conflicting write: note it and retry later, never stop the loop
                                    Record(c, key, ex);
                                    Enqueue(c, key, TimeSpan.FromMilliseconds(200));
                                }
                            }
                        }
                    }
                    finally { Interlocked.Decrement(ref _inflight); }
                }
            }
        }
        catch (OperationCanceledException) { }
    }

    private sealed record Work(SimController Controller, string Key, long Ticket);

    private readonly ConcurrentQueue<string> _errors = new();

    /// <summary>The latest controller errors (most recent last), for diagnosing the simulation itself.</summary>
    public IReadOnlyList<string> Errors => _errors.ToArray();

    private void Record(SimController c, string key, Exception ex)
    {
        _errors.Enqueue($"{DateTime.UtcNow:HH:mm:ss.fff} {c.GetType().Name} {key}: {ex.GetType().Name}: {ex.Message}");
        while (_errors.Count > 200) _errors.TryDequeue(out _);
    }

    /// <summary>True once nothing is queued or in flight and no delayed work is pending.</summary>
    public async Task<bool> WaitIdleAsync(TimeSpan timeout, CancellationToken ct)
    {
        var until = DateTime.UtcNow + timeout;
        var quietSince = DateTime.MinValue;
        while (DateTime.UtcNow < until)
        {
            var idle = Volatile.Read(ref _inflight) == 0 && Interlocked.Read(ref _delayed) == 0;
            if (idle)
            {
                if (quietSince == DateTime.MinValue) quietSince = DateTime.UtcNow;
                if (DateTime.UtcNow - quietSince > TimeSpan.FromMilliseconds(30)) return true;
            }
            else quietSince = DateTime.MinValue;
            await Task.Delay(5, ct).ConfigureAwait(false);
        }
        return false;
    }
}

/// <summary>Base of the simulated controllers: event filter, reconcile by key, store helpers.</summary>
internal abstract class SimController
{
    protected SimController(ControllerManager m) => M = m;

    /// <summary>
    /// The most pods one workload (ReplicaSet, StatefulSet, LeaderWorkerSet) gets in the sandbox. A real
    /// server takes replicas: 100000 and its scheduler leaves what does not fit Pending; creating that many
    /// pod objects here would spin a core, so the controllers stop at this simulated capacity.
    /// </summary>
    internal const int PodCapacityPerWorkload = 1000;

    protected ControllerManager M { get; }
    protected SimCore Core => M.Core;
    protected KubeControllerDelays Delays => M.Delays;
    protected abstract string Name { get; }

    public abstract void OnEvent(WatchEvent ev);
    public abstract void Reconcile(string key);

    protected void Enqueue(string key, TimeSpan delay = default) => M.Enqueue(this, key, delay);

    protected ResourceType? T(string group, string plural) =>
        Core.Registry.All.Where(t => t.Group == group && t.Plural == plural).OrderByDescending(t => t.Storage).FirstOrDefault();

    protected static string K(string? ns, string name) => ns is null ? name : ns + "/" + name;

    protected static (string? Ns, string Name) Split(string key)
    {
        var i = key.IndexOf('/');
        return i < 0 ? (null, key) : (key[..i], key[(i + 1)..]);
    }

    protected static string KeyOf(JsonObject o) => K(o.Namespace(), o.Name());

    protected JsonObject? Get(string group, string plural, string? ns, string name) => Core.Peek(group, plural, ns, name);

    protected IEnumerable<JsonObject> All(string group, string plural, string? ns = null) => Core.PeekAll(group, plural, ns);

    protected static bool Is(WatchEvent ev, string group, string plural) => ev.StoreKey == group + "/" + plural;

    protected static bool Deleting(JsonObject o) => o.Str("metadata", "deletionTimestamp") is not null;

    protected JsonObject Upsert(JsonObject obj)
    {
        var apiVersion = obj.Str("apiVersion") ?? "";
        var t = Core.Registry.FindKind(apiVersion, obj.Str("kind") ?? "") ?? throw new InvalidOperationException($"{apiVersion} {obj.Str("kind")} not served");
        return Core.Upsert(t, obj, Name);
    }

    protected void SetStatus(string group, string plural, JsonObject obj, JsonNode status)
    {
        var t = T(group, plural) ?? throw new InvalidOperationException($"{group}/{plural} not served");
        Core.WriteStatus(t, obj.Namespace(), obj.Name(), status, Name);
    }

    protected void Remove(string group, string plural, JsonObject obj, string? policy = null)
    {
        var t = T(group, plural);
        if (t is null) return;
        if (Core.Peek(t, obj.Namespace(), obj.Name()) is null) return;
        Core.Delete(t, obj.Namespace(), obj.Name(), WriteOptions.Controller(Name), new DeleteOptions(policy));
    }

    protected static JsonObject OwnerRef(JsonObject owner, bool controller = true) => new()
    {
        ["apiVersion"] = owner.Str("apiVersion"), ["kind"] = owner.Str("kind"), ["name"] = owner.Name(), ["uid"] = owner.Str("metadata", "uid"),
        ["controller"] = controller, ["blockOwnerDeletion"] = true,
    };

    protected static bool Owns(JsonObject owner, JsonObject o) => SimCore.OwnedBy(o, owner.Str("metadata", "uid") ?? "?");

    protected static string? ControllerOwnerUid(JsonObject o) =>
        o.Arr("metadata", "ownerReferences")?.FirstOrDefault(r => r.Bool("controller") == true).Str("uid");

    protected static JsonObject Condition(string type, bool status, string reason, string message, long? observedGeneration = null, JsonObject? previous = null)
    {
        var s = status ? "True" : "False";
        var prevCond = previous?.Arr("conditions")?.FirstOrDefault(c => c.Str("type") == type);
        var transition = prevCond is not null && prevCond.Str("status") == s ? prevCond.Str("lastTransitionTime") : SimCore.Now();
        var c = new JsonObject { ["type"] = type, ["status"] = s, ["reason"] = reason, ["message"] = message, ["lastTransitionTime"] = transition };
        if (observedGeneration is not null) c["observedGeneration"] = observedGeneration;
        return c;
    }

    /// <summary>Records a core/v1 Event about <paramref name="involved"/>; a repeat of the same reason and message bumps count and lastTimestamp.</summary>
    protected void RecordEvent(JsonObject involved, string type, string reason, string message, string component, string? host = null)
    {
        var evType = T("", "events");
        var ns = involved.Namespace() ?? "default";
        if (evType is null || Get("", "namespaces", null, ns) is null) return;
        var name = $"{involved.Name()}.{Pods.TemplateHash(JsonValue.Create(reason + "\n" + message + (involved.Str("metadata", "uid") ?? "")))}";
        var now = SimCore.Now();
        var existing = Core.Peek(evType, ns, name);
        if (existing is not null)
        {
            Core.Mutate(evType, existing, e => { e["count"] = (e.Long("count") ?? 1) + 1; e["lastTimestamp"] = now; }, component);
            return;
        }
        var source = new JsonObject { ["component"] = component };
        if (host is not null) source["host"] = host;
        Core.Create(evType, ns, new JsonObject
        {
            ["apiVersion"] = "v1", ["kind"] = "Event",
            ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns },
            ["involvedObject"] = new JsonObject
            {
                ["apiVersion"] = involved.Str("apiVersion") ?? "v1", ["kind"] = involved.Str("kind"), ["namespace"] = involved.Namespace(),
                ["name"] = involved.Name(), ["uid"] = involved.Str("metadata", "uid"), ["resourceVersion"] = involved.Str("metadata", "resourceVersion"),
            },
            ["reason"] = reason, ["message"] = message, ["type"] = type, ["source"] = source,
            ["firstTimestamp"] = now, ["lastTimestamp"] = now, ["count"] = 1,
            ["reportingComponent"] = component, ["reportingInstance"] = host ?? "",
        }, WriteOptions.Controller(component));
    }

    protected static bool ConditionTrue(JsonObject? o, string type) =>
        o?.Arr("status", "conditions")?.Any(c => c.Str("type") == type && c.Str("status") == "True") == true;

    /// <summary>True when a Deployment with one of these names is Available (the operator "runs").</summary>
    protected bool OperatorRunning(params string[] deploymentNames) => FindOperator(deploymentNames) is not null;

    protected JsonObject? FindOperator(params string[] deploymentNames) =>
        All("apps", "deployments").FirstOrDefault(d => deploymentNames.Contains(d.Name()) && ConditionTrue(d, "Available"));

    protected static bool IsOperatorDeployment(WatchEvent ev, params string[] names) =>
        ev.StoreKey == "apps/deployments" && names.Contains(ev.Object.Name());
}
