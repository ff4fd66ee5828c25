using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using k8s;
using k8s.Models;
using RhaiiGke.Engine.Kube.Platform;
using RhaiiGke.Sandbox.KubeApi;
using Xunit;

namespace RhaiiGke.Tests.KubeApi;

/// <summary>
/// Issue 11 item 4: the meta.k8s.io Table kube-apiserver answers kubectl get with (columns of
/// pkg/printers/internalversion/printers.go, includeObject, Table watches), and the node Leases of kube-node-lease.
/// </summary>
public sealed class TablePrinterTests : SimulatorTestBase
{
    private const string TableAccept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";

    public TablePrinterTests() : base(Opts()) { }

    private static KubeApiSimulatorOptions Opts()
    {
        var o = KubeApiSimulatorOptions.Fast(TimeSpan.FromMilliseconds(10));
        o.DataPlane = false;
        o.NodeLeaseRenewInterval = TimeSpan.FromMilliseconds(200);
        return o;
    }

    private HttpClient Http()
    {
        var h = Sim.HttpClient();
        h.BaseAddress = Sim.Endpoint;
        h.Timeout = TimeSpan.FromSeconds(60);
        return h;
    }

    private static async Task<(HttpStatusCode Code, JsonObject Body)> GetTable(HttpClient h, string path, string accept = TableAccept)
    {
        using var req = new HttpRequestMessage(HttpMethod.Get, path);
        req.Headers.TryAddWithoutValidation("Accept", accept);
        using var res = await h.SendAsync(req);
        return (res.StatusCode, JsonNode.Parse(await res.Content.ReadAsStringAsync())!.AsObject());
    }

    private static List<(string Name, string Type, long Priority)> Columns(JsonObject table) =>
        table["columnDefinitions"]!.AsArray().Select(c => ((string)c!["name"]!, (string)c["type"]!, (long)c["priority"]!)).ToList();

    private static JsonArray Cells(JsonObject table, int row = 0) => table["rows"]![row]!["cells"]!.AsArray();

    private static string Cell(JsonObject table, string column, int row = 0)
    {
        var i = Columns(table).FindIndex(c => c.Name == column);
        Assert.True(i >= 0, $"no column {column}: {string.Join(", ", Columns(table).Select(c => c.Name))}");
        return Cells(table, row)[i]?.ToString() ?? "<null>";
    }

    [Fact]
    public async Task PodsAndNodesHaveTheColumnsOfTheRealPrintersWithWideOnesAtPriorityOne()
    {
        await Client.CreateNamespacedDeploymentAsync(Deployment("web"), "default");
        await Eventually(async () => (await Client.ListNamespacedPodAsync("default", labelSelector: "app=web")).Items.Any(p =>
            p.Status?.Conditions?.Any(c => c.Type == "Ready" && c.Status == "True") == true), "a Ready pod of web", 30000);
        using var h = Http();

        var (code, pods) = await GetTable(h, "api/v1/namespaces/default/pods?limit=500");
        Assert.Equal(HttpStatusCode.OK, code);
        Assert.Equal("Table", (string?)pods["kind"]);
        Assert.Equal("meta.k8s.io/v1", (string?)pods["apiVersion"]);
        Assert.False(string.IsNullOrEmpty((string?)pods["metadata"]!["resourceVersion"]));
        Assert.Equal(
            [("Name", "string", 0L), ("Ready", "string", 0L), ("Status", "string", 0L), ("Restarts", "string", 0L), ("Age", "string", 0L),
             ("IP", "string", 1L), ("Node", "string", 1L), ("Nominated Node", "string", 1L), ("Readiness Gates", "string", 1L)],
            Columns(pods));
        Assert.Equal("name", (string?)pods["columnDefinitions"]![0]!["format"]);
        var pod = (await Client.ListNamespacedPodAsync("default", labelSelector: "app=web")).Items.Single();
        Assert.Equal(pod.Metadata.Name, Cell(pods, "Name"));
        Assert.Equal("1/1", Cell(pods, "Ready"));
        Assert.Equal("Running", Cell(pods, "Status"));
        Assert.Equal("0", Cell(pods, "Restarts"));
        Assert.Matches(@"^\d+s$", Cell(pods, "Age"));
        Assert.Equal(pod.Status.PodIP, Cell(pods, "IP"));
        Assert.Equal(pod.Spec.NodeName, Cell(pods, "Node"));
        Assert.Equal("<none>", Cell(pods, "Nominated Node"));
        Assert.Equal("<none>", Cell(pods, "Readiness Gates"));
        // the default row object is the metadata alone
        var obj = pods["rows"]![0]!["object"]!;
        Assert.Equal("PartialObjectMetadata", (string?)obj["kind"]);
        Assert.Equal("meta.k8s.io/v1", (string?)obj["apiVersion"]);
        Assert.Equal(pod.Metadata.Uid, (string?)obj["metadata"]!["uid"]);
        Assert.Null(obj["spec"]);

        var (_, nodes) = await GetTable(h, "api/v1/nodes");
        Assert.Equal(
            ["Name", "Status", "Roles", "Age", "Version", "Internal-IP", "External-IP", "OS-Image", "Kernel-Version", "Container-Runtime"],
            Columns(nodes).Select(c => c.Name));
        Assert.Equal([0L, 0, 0, 0, 0, 1, 1, 1, 1, 1], Columns(nodes).Select(c => c.Priority));
        Assert.Equal(3, nodes["rows"]!.AsArray().Count);
        Assert.Equal("Ready", Cell(nodes, "Status"));
        Assert.Equal("<none>", Cell(nodes, "Roles"));
        Assert.Equal(Sim.Options.KubernetesVersion, Cell(nodes, "Version"));
        Assert.Matches(@"^10\.128\.\d+\.\d+$", Cell(nodes, "Internal-IP"));
        Assert.Equal("<none>", Cell(nodes, "External-IP"));
        Assert.Equal("Container-Optimized OS from Google", Cell(nodes, "OS-Image"));
        Assert.StartsWith("containerd://", Cell(nodes, "Container-Runtime"));

        // a single object is a one-row Table too
        var (_, one) = await GetTable(h, $"api/v1/namespaces/default/pods/{pod.Metadata.Name}");
        Assert.Single(one["rows"]!.AsArray());
        Assert.Equal(pod.Metadata.ResourceVersion, (string?)one["metadata"]!["resourceVersion"]);
    }

    [Fact]
    public async Task EventsWorkloadsServicesAndConfigKindsPrintTheirOwnColumns()
    {
        await Client.CreateNamespacedDeploymentAsync(Deployment("api", replicas: 2), "default");
        await Eventually(async () => (await Client.ReadNamespacedDeploymentAsync("api", "default")).Status?.ReadyReplicas == 2, "api ready", 30000);
        await Client.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "cfg" }, Data = new Dictionary<string, string> { ["a"] = "1", ["b"] = "2" } }, "default");
        await Client.CreateNamespacedSecretAsync(new V1Secret { Metadata = new V1ObjectMeta { Name = "s" }, Type = "Opaque", StringData = new Dictionary<string, string> { ["k"] = "v" } }, "default");
        using var h = Http();

        var (_, events) = await GetTable(h, "api/v1/namespaces/default/events");
        Assert.Equal(["Last Seen", "Type", "Reason", "Object", "Subobject", "Source", "Message", "First Seen", "Count", "Name"], Columns(events).Select(c => c.Name));
        Assert.Equal([0L, 0, 0, 0, 1, 1, 0, 1, 1, 1], Columns(events).Select(c => c.Priority));
        var rows = events["rows"]!.AsArray().Select((_, i) => i).ToList();
        Assert.Contains(rows, i => Cell(events, "Reason", i) == "ScalingReplicaSet" && Cell(events, "Object", i) == "deployment/api" && Cell(events, "Type", i) == "Normal");
        Assert.Contains(rows, i => Cell(events, "Reason", i) == "Scheduled" && Cell(events, "Object", i).StartsWith("pod/api-", StringComparison.Ordinal) && Cell(events, "Source", i) == "default-scheduler");
        Assert.Contains(rows, i => Cell(events, "Reason", i) == "Started" && Regex.IsMatch(Cell(events, "Source", i), @"^kubelet, \S+$"));

        var (_, deploy) = await GetTable(h, "apis/apps/v1/namespaces/default/deployments/api");
        Assert.Equal(["Name", "Ready", "Up-to-date", "Available", "Age", "Containers", "Images", "Selector"], Columns(deploy).Select(c => c.Name));
        Assert.Equal("2/2", Cell(deploy, "Ready"));
        Assert.Equal("2", Cell(deploy, "Available"));
        Assert.Equal("main", Cell(deploy, "Containers"));
        Assert.Equal("registry.example/app:1.0", Cell(deploy, "Images"));
        Assert.Equal("app=api", Cell(deploy, "Selector"));

        var (_, rs) = await GetTable(h, "apis/apps/v1/namespaces/default/replicasets");
        Assert.Equal(["Name", "Desired", "Current", "Ready", "Age", "Containers", "Images", "Selector"], Columns(rs).Select(c => c.Name));
        Assert.Equal("integer", Columns(rs)[1].Type);
        Assert.Equal("2", Cell(rs, "Ready"));

        var (_, svc) = await GetTable(h, "api/v1/namespaces/default/services/kubernetes");
        Assert.Equal(["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "Selector"], Columns(svc).Select(c => c.Name));
        Assert.Equal(["kubernetes", "ClusterIP", "10.96.0.1", "<none>", "443/TCP"], Cells(svc).Take(5).Select(c => c!.ToString()));

        var (_, ns) = await GetTable(h, "api/v1/namespaces/kube-system");
        Assert.Equal(["Name", "Status", "Age"], Columns(ns).Select(c => c.Name));
        Assert.Equal("Active", Cell(ns, "Status"));

        var (_, cm) = await GetTable(h, "api/v1/namespaces/default/configmaps/cfg");
        Assert.Equal(["Name", "Data", "Age"], Columns(cm).Select(c => c.Name));
        Assert.Equal(2L, (long)Cells(cm)[1]!);
        var (_, secret) = await GetTable(h, "api/v1/namespaces/default/secrets/s");
        Assert.Equal(["Name", "Type", "Data", "Age"], Columns(secret).Select(c => c.Name));
        Assert.Equal(["s", "Opaque", "1"], Cells(secret).Take(3).Select(c => c!.ToString()));
        var (_, sa) = await GetTable(h, "api/v1/namespaces/default/serviceaccounts");
        Assert.Equal(["Name", "Secrets", "Age"], Columns(sa).Select(c => c.Name));

        // a kind without a printer of its own: Name and Age
        var (_, pc) = await GetTable(h, "apis/networking.k8s.io/v1/ingressclasses");
        Assert.Equal(["Name", "Age"], Columns(pc).Select(c => c.Name));
    }

    [Fact]
    public async Task CrdsShowCreatedAtAndCustomResourcesTheirPrinterColumns()
    {
        using var h = Http();
        foreach (var crd in SandboxBundles.For("kserve").Where(o => (string?)o["kind"] == "CustomResourceDefinition"))
        {
            using var res = await h.PostAsync("apis/apiextensions.k8s.io/v1/customresourcedefinitions", new StringContent(crd.ToJsonString(), Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.Created, res.StatusCode);
        }
        await Eventually(() => Task.FromResult(Sim.Serves("serving.kserve.io/v1alpha1", "LLMInferenceService")), "LLMInferenceService served", 30000);

        var (_, crds) = await GetTable(h, "apis/apiextensions.k8s.io/v1/customresourcedefinitions");
        Assert.Equal([("Name", "string", 0L), ("Created At", "date", 0L)], Columns(crds));
        var created = Cell(crds, "Created At");
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", created); // RFC3339, not an age
        Assert.Contains(crds["rows"]!.AsArray(), r => (string?)r!["cells"]![0] == "llminferenceservices.serving.kserve.io");

        Sim.Seed("""
            apiVersion: serving.kserve.io/v1alpha1
            kind: LLMInferenceService
            metadata: {name: qwen, namespace: default}
            spec: {model: {uri: "hf://Qwen/Qwen2.5-3B-Instruct"}}
            status:
              url: http://10.0.0.9/default/qwen
              conditions: [{type: Ready, status: "True", reason: Ready2}]
            """);
        var (_, llm) = await GetTable(h, "apis/serving.kserve.io/v1alpha1/namespaces/default/llminferenceservices");
        var cols = Columns(llm);
        Assert.Equal("Name", cols[0].Name);
        var crdColumns = Sim.GetObject("apiextensions.k8s.io/v1", "CustomResourceDefinition", null, "llminferenceservices.serving.kserve.io")!
            ["spec"]!["versions"]![0]!["additionalPrinterColumns"]?.AsArray().Select(c => (string)c!["name"]!).ToList() ?? ["Age"];
        Assert.Equal(crdColumns, cols.Skip(1).Select(c => c.Name));
        Assert.Equal("qwen", Cell(llm, "Name"));
        Assert.Matches(@"^\d+s$", Cell(llm, "Age"));
        if (crdColumns.Contains("Ready")) Assert.Equal("True", Cell(llm, "Ready"));
        if (crdColumns.Contains("URL")) Assert.Equal("http://10.0.0.9/default/qwen", Cell(llm, "URL"));
    }

    [Fact]
    public async Task IncludeObjectVersionsAndAnAcceptHeaderWithoutAServedTable()
    {
        using var h = Http();
        var (_, none) = await GetTable(h, "api/v1/namespaces?includeObject=None");
        Assert.All(none["rows"]!.AsArray(), r => Assert.Null(r!["object"]));
        var (_, full) = await GetTable(h, "api/v1/namespaces?includeObject=Object");
        Assert.All(full["rows"]!.AsArray(), r => Assert.Equal("Namespace", (string?)r!["object"]!["kind"]));
        var (bad, status) = await GetTable(h, "api/v1/namespaces?includeObject=Everything");
        Assert.Equal(HttpStatusCode.BadRequest, bad);
        Assert.Equal("unrecognized includeObject value: \"Everything\"", (string?)status["message"]);

        var (_, beta) = await GetTable(h, "api/v1/namespaces", "application/json;as=Table;v=v1beta1;g=meta.k8s.io");
        Assert.Equal("meta.k8s.io/v1beta1", (string?)beta["apiVersion"]);
        Assert.Equal("meta.k8s.io/v1beta1", (string?)beta["rows"]![0]!["object"]!["apiVersion"]);

        var (notAcceptable, na) = await GetTable(h, "api/v1/namespaces", "application/json;as=Table;v=v2;g=meta.k8s.io");
        Assert.Equal(HttpStatusCode.NotAcceptable, notAcceptable);
        Assert.Equal("NotAcceptable", (string?)na["reason"]);
        var (_, plain) = await GetTable(h, "api/v1/namespaces", "application/json;as=Table;v=v2;g=meta.k8s.io,application/json");
        Assert.Equal("NamespaceList", (string?)plain["kind"]);
    }

    [Fact]
    public async Task AWatchAsTableSendsRowsAndTheColumnsOnlyOnce()
    {
        await Client.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "w1" }, Data = new Dictionary<string, string> { ["a"] = "1" } }, "default");
        using var h = Http();
        using var req = new HttpRequestMessage(HttpMethod.Get, "api/v1/namespaces/default/configmaps?watch=true&resourceVersion=0&timeoutSeconds=60");
        req.Headers.TryAddWithoutValidation("Accept", TableAccept);
        using var res = await h.SendAsync(req, HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await res.Content.ReadAsStreamAsync());
        var seen = new List<JsonObject>();
        async Task<JsonObject> Next() => JsonNode.Parse((await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60)))!)!.AsObject();
        JsonObject ev;
        do { ev = await Next(); seen.Add(ev); } while (Cells((JsonObject)ev["object"]!)[0]!.ToString() != "w1");
        await Client.PatchNamespacedConfigMapAsync(new V1Patch("""{"data":{"b":"2"}}""", V1Patch.PatchType.MergePatch), "w1", "default");
        do { ev = await Next(); seen.Add(ev); } while (!(Cells((JsonObject)ev["object"]!)[0]!.ToString() == "w1" && (string?)ev["type"] == "MODIFIED"));

        Assert.All(seen, e => Assert.Equal("Table", (string?)e["object"]!["kind"]));
        Assert.Equal(["Name", "Data", "Age"], Columns((JsonObject)seen[0]["object"]!).Select(c => c.Name));
        Assert.All(seen.Skip(1), e => Assert.Empty(e["object"]!["columnDefinitions"]!.AsArray()));
        Assert.Equal(2L, (long)Cells((JsonObject)ev["object"]!)[1]!);
    }

    [Fact]
    public async Task EveryNodeHasALeaseInKubeNodeLeaseThatItsKubeletRenews()
    {
        var leases = await Client.CoordinationV1.ListNamespacedLeaseAsync("kube-node-lease");
        var nodes = await Client.ListNodeAsync();
        Assert.Equal(nodes.Items.Select(n => n.Metadata.Name).Order(), leases.Items.Select(l => l.Metadata.Name).Order());
        var node = nodes.Items[0];
        var lease = leases.Items.Single(l => l.Metadata.Name == node.Metadata.Name);
        Assert.Equal(node.Metadata.Name, lease.Spec.HolderIdentity);
        Assert.Equal(40, lease.Spec.LeaseDurationSeconds);
        var owner = Assert.Single(lease.Metadata.OwnerReferences);
        Assert.Equal(("v1", "Node", node.Metadata.Name, node.Metadata.Uid), (owner.ApiVersion, owner.Kind, owner.Name, owner.Uid));
        var first = lease.Spec.RenewTime;
        Assert.NotNull(first);
        await Eventually(async () => (await Client.CoordinationV1.ReadNamespacedLeaseAsync(node.Metadata.Name, "kube-node-lease")).Spec.RenewTime > first,
            "the kubelet renewing its lease", 60000);

        // nodeInfo and addresses as a kubelet reports them
        Assert.Contains(node.Status.Addresses, a => a.Type == "InternalIP");
        Assert.Contains(node.Status.Addresses, a => a.Type == "Hostname" && a.Address == node.Metadata.Name);
        var info = node.Status.NodeInfo;
        Assert.All(new[] { info.BootID, info.MachineID, info.SystemUUID, info.KernelVersion, info.OsImage, info.ContainerRuntimeVersion, info.KubeletVersion, info.KubeProxyVersion, info.OperatingSystem, info.Architecture },
            v => Assert.False(string.IsNullOrEmpty(v)));

        // a node that goes takes its lease with it
        Sim.RemoveNode(node.Metadata.Name);
        Assert.Null(Sim.GetObject("coordination.k8s.io/v1", "Lease", "kube-node-lease", node.Metadata.Name));
    }
}
