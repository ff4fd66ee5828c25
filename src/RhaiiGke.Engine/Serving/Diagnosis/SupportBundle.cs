using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using RhaiiGke.Engine.Inference;
using RhaiiGke.Engine.Kube;
using RhaiiGke.Engine.Kube.Json;
using RhaiiGke.Engine.Kube.Platform;

namespace RhaiiGke.Engine.Serving.Diagnosis;

/// <summary>
/// Writes a support bundle: one zip with what Get-RhaiiDiagnosis reads (objects of every kind it checks, events
/// included, Secrets reduced to their key names), the recent logs of the LLMInferenceServices' and gateways'
/// pods (current and previous container instances), a metrics scrape of each service and the operator status.
/// Get-RhaiiDiagnosis -Path reads the zip back (its objects/ folder).
/// </summary>
public static class SupportBundleWriter
{
    public const string ObjectsFolder = "objects/";

    public static async Task<SupportBundle> WriteAsync(ClusterConnection connection, string path, int tailLines, IRhaiiLog? log, CancellationToken ct)
    {
        log ??= NullRhaiiLog.Instance;
        var client = KubeClients.For(connection);
        var snapshot = await ClusterSnapshotReader.ReadAsync(connection, log, ct).ConfigureAwait(false);
        var entries = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var json = new JsonSerializerOptions { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };

        foreach (var group in snapshot.Objects.GroupBy(o => ClusterSnapshot.Str(o, "kind") ?? "Unknown").OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var items = new JsonArray(group.Select(o => (JsonNode)o.DeepClone()).ToArray());
            entries[$"{ObjectsFolder}{group.Key}.json"] = new JsonObject { ["apiVersion"] = "v1", ["kind"] = "List", ["items"] = items }.ToJsonString(json);
        }

        // the pods worth reading: the services' (by the name label) and the gateways'
        var services = snapshot.OfKind("LLMInferenceService").ToList();
        var pods = snapshot.OfKind("Pod").Where(p =>
            services.Any(s => ClusterSnapshot.Namespace(s) == ClusterSnapshot.Namespace(p) && ClusterSnapshot.Labels(p).GetValueOrDefault("app.kubernetes.io/name") == ClusterSnapshot.Name(s))
            || ClusterSnapshot.Labels(p).ContainsKey("gateway.networking.k8s.io/gateway-name")).ToList();
        var logFiles = 0;
        foreach (var p in pods)
        {
            var ns = ClusterSnapshot.Namespace(p) ?? "default";
            var name = ClusterSnapshot.Name(p);
            log.Progress("Collecting logs", $"{ns}/{name}", -1);
            var statuses = (p.Arr("status", "containerStatuses") ?? []).Concat(p.Arr("status", "initContainerStatuses") ?? []).OfType<JsonObject>().ToList();
            foreach (var st in statuses)
            {
                var container = st.Str("name") ?? "";
                foreach (var previous in new[] { false, true })
                {
                    if (previous && st.Obj("lastState", "terminated") is null) continue;
                    if (!previous && st.Obj("state", "running") is null && st.Obj("state", "terminated") is null && st.Obj("lastState", "terminated") is null) continue;
                    var q = $"api/v1/namespaces/{ns}/pods/{name}/log?container={Uri.EscapeDataString(container)}&timestamps=true&tailLines={tailLines.ToString(CultureInfo.InvariantCulture)}{(previous ? "&previous=true" : "")}";
                    try
                    {
                        var (_, body, _) = await client.SendRawAsync(HttpMethod.Get, q, null, null, ct).ConfigureAwait(false);
                        entries[$"logs/{ns}/{name}/{container}{(previous ? ".previous" : "")}.log"] = body;
                        logFiles++;
                    }
                    catch (KubeApiException e) { log.Verbose($"{ns}/{name}/{container}: {e.Message}"); }
                }
            }
        }

        // one metrics scrape per service, through the API server
        var metrics = new ServiceMetricsCollector(connection, log);
        foreach (var s in services)
        {
            var ns = ClusterSnapshot.Namespace(s) ?? "default";
            var name = ClusterSnapshot.Name(s);
            try
            {
                var targets = await metrics.TargetsAsync(ns, name, ct).ConfigureAwait(false);
                var scrape = await metrics.ScrapeAsync(ns, name, targets, ct).ConfigureAwait(false);
                var summary = ServiceMetricsCollector.Summarize(scrape, null, 1);
                entries[$"metrics/{ns}/{name}.json"] = JsonSerializer.Serialize(summary, json);
            }
            catch (RhaiiException e) { log.Verbose($"metrics of {ns}/{name}: {e.Message}"); }
        }

        try
        {
            var status = await new PlatformInstaller(connection, log).GetStatusAsync(null, ct).ConfigureAwait(false);
            entries["operators.json"] = JsonSerializer.Serialize(new { status.Cluster, status.Context, status.Components, status.IstioVersion, status.InferencePoolApis, status.GatewayInferencePoolApi }, json);
        }
        catch (RhaiiException e) { log.Verbose($"operator status: {e.Message}"); }

        var bundle = new SupportBundle
        {
            Path = path, CreatedAt = DateTimeOffset.UtcNow, Server = connection.Server,
            Objects = snapshot.Objects.Count, LogFiles = logFiles, Services = services.Count,
        };
        entries["bundle.json"] = JsonSerializer.Serialize(new { bundle.CreatedAt, bundle.Server, bundle.Objects, bundle.LogFiles, bundle.Services, Secrets = "key names only" }, json);

        var dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        var tmp = path + ".tmp";
        await using (var file = new FileStream(tmp, FileMode.Create, FileAccess.Write))
        using (var zip = new ZipArchive(file, ZipArchiveMode.Create))
        {
            foreach (var (name, text) in entries)
            {
                var e = zip.CreateEntry(name, CompressionLevel.Optimal);
                await using var w = e.Open();
                await w.WriteAsync(Encoding.UTF8.GetBytes(text), ct).ConfigureAwait(false);
            }
        }
        File.Move(tmp, path, overwrite: true);
        bundle.Size = new FileInfo(path).Length;
        log.Progress("Collecting logs", "done", 100);
        return bundle;
    }

    /// <summary>True for a zip file (by its signature), so -Path can be a bundle or a folder of dumps.</summary>
    public static bool IsBundle(string path)
    {
        if (!File.Exists(path)) return false;
        Span<byte> head = stackalloc byte[4];
        using var f = File.OpenRead(path);
        return f.Read(head) == 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4;
    }

    /// <summary>The objects of a bundle into a snapshot.</summary>
    public static void Load(string path, ClusterSnapshot snapshot)
    {
        using var zip = ZipFile.OpenRead(path);
        var any = false;
        foreach (var e in zip.Entries.Where(e => e.FullName.StartsWith(ObjectsFolder, StringComparison.Ordinal) && e.FullName.EndsWith(".json", StringComparison.Ordinal)).OrderBy(e => e.FullName, StringComparer.Ordinal))
        {
            using var r = new StreamReader(e.Open(), Encoding.UTF8);
            snapshot.AddText(r.ReadToEnd());
            any = true;
        }
        if (!any)
            throw new RhaiiException("SupportBundleUnreadable", RhaiiErrorCategory.InvalidData, $"'{path}' is a zip without an objects/ folder: not a support bundle.",
                "Give a file written by Export-RhaiiSupportBundle, or a folder of kubectl get -o json|yaml output.", path);
    }
}
