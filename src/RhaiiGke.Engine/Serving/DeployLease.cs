using System.Globalization;
using System.Text.Json.Nodes;
using RhaiiGke.Engine.Kube;
using RhaiiGke.Engine.Kube.Json;
using RhaiiGke.Engine.Manifests;

namespace RhaiiGke.Engine.Serving;

/// <summary>
/// One Deploy-LlmInferenceService at a time per service: a coordination.k8s.io Lease
/// (<c>rhaiigke-deploy-&lt;name&gt;</c> in the service's namespace) is created before anything is applied and deleted
/// after. Creation is atomic on the API server, so of two deploys started at the same instant exactly one gets it;
/// the other fails with <c>LlmInferenceServiceDeployInProgress</c> before it has changed anything, instead of the two
/// applies interleaving into a mix of both requests. A holder that dies stops renewing, and its lease is taken over
/// (with the resourceVersion read as a precondition) once it has expired.
/// </summary>
internal sealed class DeployLease : IAsyncDisposable
{
    private const string Api = "apis/coordination.k8s.io/v1";
    private readonly KubeClient _client;
    private readonly string _path;
    private readonly string _holder;
    private readonly IRhaiiLog _log;
    private readonly CancellationTokenSource _stop = new();
    private Task? _renewal;

    /// <summary>How long a lease stays valid without renewal (a crashed deploy blocks the service this long at most).</summary>
    public static TimeSpan Duration { get; set; } = TimeSpan.FromSeconds(60);

    private DeployLease(KubeClient client, string path, string holder, IRhaiiLog log)
    {
        _client = client;
        _path = path;
        _holder = holder;
        _log = log;
    }

    public static string NameFor(string service) => "rhaiigke-deploy-" + service;

    private static string Now() => DateTime.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);

    private JsonObject Body(string ns, string name, string? resourceVersion)
    {
        var meta = new JsonObject { ["name"] = name, ["namespace"] = ns, ["labels"] = new JsonObject { [ManifestBuilder.ManagedByLabel] = "rhaiigke" } };
        if (resourceVersion is not null) meta["resourceVersion"] = resourceVersion;
        var now = Now();
        return new JsonObject
        {
            ["apiVersion"] = "coordination.k8s.io/v1", ["kind"] = "Lease", ["metadata"] = meta,
            ["spec"] = new JsonObject { ["holderIdentity"] = _holder, ["leaseDurationSeconds"] = (int)Math.Ceiling(Duration.TotalSeconds), ["acquireTime"] = now, ["renewTime"] = now },
        };
    }

    /// <summary>
    /// Takes the service's deploy lease or throws <c>LlmInferenceServiceDeployInProgress</c>. <paramref name="ensureNamespace"/>
    /// creates the namespace when it does not exist yet (the deploy would create it anyway).
    /// </summary>
    public static async Task<DeployLease> AcquireAsync(KubeClient client, string ns, string service, IRhaiiLog log, Func<CancellationToken, Task> ensureNamespace, CancellationToken ct)
    {
        var name = NameFor(service);
        var holder = $"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid():N}";
        var lease = new DeployLease(client, $"{Api}/namespaces/{ns}/leases/{name}", holder, log);
        var collection = $"{Api}/namespaces/{ns}/leases";
        var namespaceCreated = false;
        for (var attempt = 0; ; attempt++)
        {
            ct.ThrowIfCancellationRequested();
            try
            {
                await client.SendAsync(HttpMethod.Post, collection, lease.Body(ns, name, null), "application/json", ct).ConfigureAwait(false);
                break;
            }
            catch (KubeApiException e) when (e.Code == 404 && !e.IsResourceNotServed && !namespaceCreated)
            {
                await ensureNamespace(ct).ConfigureAwait(false);
                namespaceCreated = true;
            }
            catch (KubeApiException e) when (e.Code == 409 && e.Reason == "AlreadyExists")
            {
                var live = await client.GetAsync(lease._path, ct).ConfigureAwait(false);
                if (live is null) continue; // released meanwhile
                var liveHolder = live.Str("spec", "holderIdentity");
                if (liveHolder == holder) break; // our own create went through before a retried attempt
                var renewed = ParseTime(live.Str("spec", "renewTime")) ?? ParseTime(live.Str("spec", "acquireTime")) ?? DateTime.MinValue;
                var expires = renewed + TimeSpan.FromSeconds(live.Long("spec", "leaseDurationSeconds") ?? (long)Duration.TotalSeconds);
                if (expires > DateTime.UtcNow && !string.IsNullOrEmpty(liveHolder))
                    throw InProgress(ns, service, name, liveHolder, expires);
                // expired: take it over only if nobody else did since we read it (resourceVersion precondition)
                try
                {
                    await client.SendAsync(HttpMethod.Put, lease._path, lease.Body(ns, name, live.Str("metadata", "resourceVersion")), "application/json", ct).ConfigureAwait(false);
                    log.Verbose($"Took over the expired deploy lease {ns}/{name} of {liveHolder}.");
                    break;
                }
                catch (KubeApiException c) when (c.Code == 409 && attempt < 8)
                {
                    // someone else wrote the lease since we read it: read it again (a live holder then refuses us)
                    continue;
                }
            }
            catch (KubeApiException e) when ((e.Code is 429 or >= 500 || e.Code == 409 && e.Reason == "Conflict") && attempt < 8)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(1000, 50 * Math.Pow(2, attempt))), ct).ConfigureAwait(false);
            }
            catch (KubeApiException e)
            {
                throw e.ToRhaii($"taking the deploy lease {ns}/{name}", $"{ns}/{service}");
            }
        }
        log.Debug($"Holding deploy lease {ns}/{name}.");
        lease._renewal = lease.RenewAsync();
        return lease;
    }

    private static RhaiiException InProgress(string ns, string service, string lease, string holder, DateTime expires) =>
        new("LlmInferenceServiceDeployInProgress", RhaiiErrorCategory.ResourceBusy,
            $"Another Deploy-LlmInferenceService of {ns}/{service} is in progress (held by {holder}); nothing was applied, so the two requests cannot mix.",
            $"Wait for the other deploy to finish, then run this one again (a re-run converges on what it asks for). If that deploy was stopped, its Lease {ns}/{lease} expires at {expires:u}.",
            $"{ns}/{service}");

    private static DateTime? ParseTime(string? s) =>
        DateTime.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var t) ? t : null;

    private async Task RenewAsync()
    {
        var every = TimeSpan.FromTicks(Duration.Ticks / 3);
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(every, _stop.Token).ConfigureAwait(false);
                var live = await _client.GetAsync(_path, _stop.Token).ConfigureAwait(false);
                if (live is null || live.Str("spec", "holderIdentity") != _holder) return;
                live.Ensure("spec")["renewTime"] = Now();
                await _client.SendAsync(HttpMethod.Put, _path, live, "application/json", _stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) { return; }
            catch (Exception e) when (e is KubeApiException or HttpRequestException or IOException)
            {
                _log.Debug($"Renewing the deploy lease failed ({e.Message}); trying again.");
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        if (_renewal is not null) await _renewal.ConfigureAwait(false);
        _stop.Dispose();
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                var live = await _client.GetAsync(_path, CancellationToken.None).ConfigureAwait(false);
                if (live is not null && live.Str("spec", "holderIdentity") == _holder)
                    await _client.DeleteAsync(_path, "Background", false, CancellationToken.None).ConfigureAwait(false);
                return;
            }
            catch (Exception e) when (attempt < 5 && (e is KubeApiException { Code: 429 or 409 or >= 500 } or HttpRequestException or IOException))
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100 * (attempt + 1))).ConfigureAwait(false);
            }
            catch (Exception e) when (e is KubeApiException or HttpRequestException or IOException)
            {
                _log.Warning($"Could not release the deploy lease {_path} ({e.Message}); it expires by itself within {Duration.TotalSeconds:0}s.");
                return;
            }
        }
    }
}
