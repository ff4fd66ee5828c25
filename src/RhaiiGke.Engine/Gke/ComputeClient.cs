using System.Text.Json.Nodes;

namespace RhaiiGke.Engine.Gke;

/// <summary>One regional Compute Engine quota.</summary>
public sealed record RegionQuota(string Metric, double Limit, double Usage)
{
    public double Available => Math.Max(0, Limit - Usage);
}

/// <summary>The Compute Engine and Service Usage calls RhaiiGke needs for preflight and stockout advice.</summary>
public sealed class ComputeClient
{
    private readonly GkeSession _session;

    public ComputeClient(GkeSession session) => _session = session;

    private GoogleApiTransport Http => _session.Transport;

    private Uri Url(string relative) => new(_session.Endpoints.Compute, relative);

    private static string E(string s) => Uri.EscapeDataString(s);

    /// <summary>True when the project exists and the caller may read it.</summary>
    public async Task<bool> ProjectExistsAsync(string project, CancellationToken ct) =>
        await Http.GetAsync(Url($"projects/{E(project)}"), $"project {project}", ct, nullOnNotFound: true).ConfigureAwait(false) is not null;

    /// <summary>Names of the accelerator types a zone offers (Compute acceleratorTypes, live).</summary>
    public async Task<IReadOnlyList<string>> ListAcceleratorTypesAsync(string project, string zone, CancellationToken ct)
    {
        var names = new List<string>();
        string? page = null;
        do
        {
            var url = $"projects/{E(project)}/zones/{E(zone)}/acceleratorTypes" + (page is null ? "" : $"?pageToken={E(page)}");
            var json = await Http.GetAsync(Url(url), $"accelerator types in {zone}", ct).ConfigureAwait(false);
            if (json?["items"] is JsonArray items)
                names.AddRange(items.OfType<JsonObject>().Select(i => GkeClient.S(i["name"])).OfType<string>());
            page = GkeClient.S(json?["nextPageToken"]);
        } while (page is not null);
        return names;
    }

    /// <summary>Every zone offering an accelerator type (aggregated acceleratorTypes list), sorted.</summary>
    public async Task<IReadOnlyList<string>> ZonesOfferingAsync(string project, string acceleratorType, CancellationToken ct)
    {
        var zones = new SortedSet<string>(StringComparer.Ordinal);
        string? page = null;
        do
        {
            var url = $"projects/{E(project)}/aggregated/acceleratorTypes?filter={E($"name = \"{acceleratorType}\"")}" + (page is null ? "" : $"&pageToken={E(page)}");
            var json = await Http.GetAsync(Url(url), $"zones offering {acceleratorType}", ct).ConfigureAwait(false);
            if (json?["items"] is JsonObject items)
                foreach (var (key, scoped) in items)
                    if (scoped?["acceleratorTypes"] is JsonArray types && types.OfType<JsonObject>().Any(t => GkeClient.S(t["name"]) == acceleratorType))
                        zones.Add(key.StartsWith("zones/", StringComparison.Ordinal) ? key["zones/".Length..] : key);
            page = GkeClient.S(json?["nextPageToken"]);
        } while (page is not null);
        return zones.ToList();
    }

    /// <summary>True when the zone offers the machine type.</summary>
    public async Task<bool> MachineTypeExistsAsync(string project, string zone, string machineType, CancellationToken ct) =>
        await Http.GetAsync(Url($"projects/{E(project)}/zones/{E(zone)}/machineTypes/{E(machineType)}"), $"machine type {machineType} in {zone}", ct, nullOnNotFound: true)
            .ConfigureAwait(false) is not null;

    /// <summary>The region's Compute quotas (regions.get).</summary>
    public async Task<IReadOnlyList<RegionQuota>> GetRegionQuotasAsync(string project, string region, CancellationToken ct)
    {
        var json = await Http.GetAsync(Url($"projects/{E(project)}/regions/{E(region)}"), $"region {region}", ct).ConfigureAwait(false);
        var list = new List<RegionQuota>();
        if (json?["quotas"] is JsonArray quotas)
            foreach (var q in quotas.OfType<JsonObject>())
                list.Add(new RegionQuota(GkeClient.S(q["metric"]) ?? "", D(q["limit"]), D(q["usage"])));
        return list;
    }

    /// <summary>State of a Google API for the project: ENABLED, DISABLED or STATE_UNSPECIFIED.</summary>
    public async Task<string> GetServiceStateAsync(string project, string service, CancellationToken ct)
    {
        var url = new Uri(_session.Endpoints.ServiceUsage, $"v1/projects/{E(project)}/services/{E(service)}");
        var json = await Http.GetAsync(url, $"service {service}", ct).ConfigureAwait(false);
        return GkeClient.S(json?["state"]) ?? "STATE_UNSPECIFIED";
    }

    private static double D(JsonNode? n) => n is JsonValue v && v.TryGetValue<double>(out var d) ? d : GkeClient.I(n) ?? 0;
}
