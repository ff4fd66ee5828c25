using System.Net;
using System.Text.Json.Nodes;
using k8s;
using k8s.Autorest;
using k8s.Models;
using RhaiiGke.Sandbox.KubeApi;
using Xunit;

namespace RhaiiGke.Tests.KubeApi;

public class KubeApiSimulatorRestTests : SimulatorTestBase
{
    [Fact]
    public async Task ServesVersionDiscoveryAndTheBootstrapNamespaces()
    {
        var v = await Client.Version.GetCodeAsync();
        Assert.Equal("v1.32.4", v.GitVersion);
        var groups = await Client.Apis.GetAPIVersionsAsync();
        Assert.Contains(groups.Groups, g => g.Name == "apps");
        var ns = await Client.CoreV1.ListNamespaceAsync();
        Assert.Contains(ns.Items, n => n.Name() == "kube-system");
        Assert.StartsWith("https://127.0.0.1:", Sim.Server);
    }

    [Fact]
    public async Task CreateGetConflictAndDeleteSpeakKubernetesStatus()
    {
        var cm = new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "settings", NamespaceProperty = "default", Labels = new Dictionary<string, string> { ["tier"] = "web" } }, Data = new Dictionary<string, string> { ["a"] = "1" } };
        var created = await Client.CoreV1.CreateNamespacedConfigMapAsync(cm, "default");
        Assert.False(string.IsNullOrEmpty(created.Metadata.Uid));
        Assert.False(string.IsNullOrEmpty(created.Metadata.ResourceVersion));

        var (code, status) = await Fails(() => Client.CoreV1.CreateNamespacedConfigMapAsync(cm, "default"));
        Assert.Equal(409, code);
        Assert.Equal("AlreadyExists", status["reason"]!.GetValue<string>());
        Assert.Equal("configmaps \"settings\" already exists", status["message"]!.GetValue<string>());

        // a stale resourceVersion is a Conflict
        created.Data["a"] = "2";
        var updated = await Client.CoreV1.ReplaceNamespacedConfigMapAsync(created, "settings", "default");
        Assert.NotEqual(created.Metadata.ResourceVersion, updated.Metadata.ResourceVersion);
        created.Data["a"] = "3";
        (code, status) = await Fails(() => Client.CoreV1.ReplaceNamespacedConfigMapAsync(created, "settings", "default"));
        Assert.Equal(409, code);
        Assert.Equal("Conflict", status["reason"]!.GetValue<string>());
        Assert.Contains("the object has been modified", status["message"]!.GetValue<string>());

        await Client.CoreV1.DeleteNamespacedConfigMapAsync("settings", "default");
        (code, status) = await Fails(() => Client.CoreV1.ReadNamespacedConfigMapAsync("settings", "default"));
        Assert.Equal(404, code);
        Assert.Equal("NotFound", status["reason"]!.GetValue<string>());
        Assert.Equal("configmaps \"settings\" not found", status["message"]!.GetValue<string>());

        (code, status) = await Fails(() => Client.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "x" } }, "missing"));
        Assert.Equal(404, code);
        Assert.Equal("namespaces \"missing\" not found", status["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task InvalidObjectsGet422WithCauses()
    {
        var bad = Deployment("web");
        bad.Spec.Template.Metadata.Labels["app"] = "other";
        var (code, status) = await Fails(() => Client.AppsV1.CreateNamespacedDeploymentAsync(bad, "default"));
        Assert.Equal(422, code);
        Assert.Equal("Invalid", status["reason"]!.GetValue<string>());
        Assert.Contains("spec.template.metadata.labels", status["message"]!.GetValue<string>());
        Assert.Equal("spec.template.metadata.labels", status["details"]!["causes"]![0]!["field"]!.GetValue<string>());

        var upper = new V1Namespace { Metadata = new V1ObjectMeta { Name = "Bad_Name" } };
        (code, status) = await Fails(() => Client.CoreV1.CreateNamespaceAsync(upper));
        Assert.Equal(422, code);
        Assert.Contains("RFC 1123", status["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task ListsFilterByLabelAndFieldSelectorsAndUnsupportedFieldsAreRejected()
    {
        foreach (var (name, tier) in new[] { ("a", "web"), ("b", "db"), ("c", "web") })
            await Client.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = name, Labels = new Dictionary<string, string> { ["tier"] = tier } } }, "default");
        Assert.Equal(["a", "c"], (await Client.CoreV1.ListNamespacedConfigMapAsync("default", labelSelector: "tier=web")).Items.Select(i => i.Name()).ToArray());
        Assert.Equal(["b"], (await Client.CoreV1.ListNamespacedConfigMapAsync("default", labelSelector: "tier notin (web)")).Items.Select(i => i.Name()).Where(n => n.Length == 1).ToArray());
        Assert.Equal(["c"], (await Client.CoreV1.ListNamespacedConfigMapAsync("default", fieldSelector: "metadata.name=c")).Items.Select(i => i.Name()).ToArray());
        Assert.Equal(["a", "b"], (await Client.CoreV1.ListNamespacedConfigMapAsync("default", labelSelector: "tier", fieldSelector: "metadata.name!=c")).Items.Select(i => i.Name()).ToArray());
        var (code, status) = await Fails(() => Client.CoreV1.ListNamespacedConfigMapAsync("default", fieldSelector: "data.a=1"));
        Assert.Equal(400, code);
        Assert.Contains("field label not supported", status["message"]!.GetValue<string>());
        var page = await Client.CoreV1.ListNamespacedConfigMapAsync("default", labelSelector: "tier", limit: 2);
        Assert.Equal(2, page.Items.Count);
        Assert.False(string.IsNullOrEmpty(page.Metadata.ContinueProperty));
        var rest = await Client.CoreV1.ListNamespacedConfigMapAsync("default", labelSelector: "tier", limit: 2, continueParameter: page.Metadata.ContinueProperty);
        Assert.Single(rest.Items);
    }

    [Fact]
    public async Task ServerSideApplyTracksManagersReportsConflictsAndHonoursForce()
    {
        const string yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\n  namespace: default\n  labels: {owner: alpha}\ndata:\n  mode: fast\n  level: \"3\"\n";
        var first = await Client.CoreV1.PatchNamespacedConfigMapAsync(Apply(yaml), "shared", "default", fieldManager: "alpha");
        Assert.Equal("fast", first.Data["mode"]);
        var entry = Assert.Single(first.Metadata.ManagedFields);
        Assert.Equal("alpha", entry.Manager);
        Assert.Equal("Apply", entry.Operation);

        // the same apply again changes nothing: same resourceVersion
        var again = await Client.CoreV1.PatchNamespacedConfigMapAsync(Apply(yaml), "shared", "default", fieldManager: "alpha");
        Assert.Equal(first.Metadata.ResourceVersion, again.Metadata.ResourceVersion);

        var other = yaml.Replace("mode: fast", "mode: slow").Replace("owner: alpha", "owner: alpha");
        var (code, status) = await Fails(() => Client.CoreV1.PatchNamespacedConfigMapAsync(Apply(other), "shared", "default", fieldManager: "beta"));
        Assert.Equal(409, code);
        Assert.Equal("Conflict", status["reason"]!.GetValue<string>());
        Assert.Equal("Apply failed with 1 conflict: conflict with \"alpha\" using v1: .data.mode", status["message"]!.GetValue<string>());
        Assert.Equal("FieldManagerConflict", status["details"]!["causes"]![0]!["reason"]!.GetValue<string>());

        var forced = await Client.CoreV1.PatchNamespacedConfigMapAsync(Apply(other), "shared", "default", fieldManager: "beta", force: true);
        Assert.Equal("slow", forced.Data["mode"]);

        // alpha drops "level" from its config: nobody else owns it, so it is removed
        var dropped = await Client.CoreV1.PatchNamespacedConfigMapAsync(Apply(yaml.Replace("  level: \"3\"\n", "").Replace("mode: fast", "mode: slow")), "shared", "default", fieldManager: "alpha");
        Assert.True(dropped.Data.ContainsKey("level")); // beta applied level too, so it stays
        var betaOnly = await Client.CoreV1.PatchNamespacedConfigMapAsync(Apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared, namespace: default}\ndata: {mode: slow}\n"), "shared", "default", fieldManager: "beta");
        Assert.False(betaOnly.Data.ContainsKey("level"));
    }

    [Fact]
    public async Task MergeAndStrategicMergePatchesWork()
    {
        await Client.AppsV1.CreateNamespacedDeploymentAsync(Deployment("web"), "default");
        var merged = await Client.AppsV1.PatchNamespacedDeploymentAsync(Merge(new { metadata = new { labels = new Dictionary<string, string> { ["team"] = "ml" } } }), "web", "default");
        Assert.Equal("ml", merged.Labels()["team"]);
        var smp = new V1Patch("""{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"proxy:1"}]}}}}""", V1Patch.PatchType.StrategicMergePatch);
        var patched = await Client.AppsV1.PatchNamespacedDeploymentAsync(smp, "web", "default");
        Assert.Equal(["main", "sidecar"], patched.Spec.Template.Spec.Containers.Select(c => c.Name).ToArray());
        var jp = new V1Patch("""[{"op":"replace","path":"/spec/replicas","value":3}]""", V1Patch.PatchType.JsonPatch);
        Assert.Equal(3, (await Client.AppsV1.PatchNamespacedDeploymentAsync(jp, "web", "default")).Spec.Replicas);
    }

    [Fact]
    public async Task StatusSubresourceIsSeparateAndGenerationCountsSpecChanges()
    {
        var d = await Client.AppsV1.CreateNamespacedDeploymentAsync(Deployment("web"), "default");
        Assert.Equal(1, d.Metadata.Generation);
        var labelled = await Client.AppsV1.PatchNamespacedDeploymentAsync(Merge(new { metadata = new { labels = new Dictionary<string, string> { ["x"] = "y" } } }), "web", "default");
        Assert.Equal(1, labelled.Metadata.Generation);
        var scaled = await Client.AppsV1.PatchNamespacedDeploymentAsync(Merge(new { spec = new { replicas = 2 } }), "web", "default");
        Assert.Equal(2, scaled.Metadata.Generation);
        // a status written through the main resource is ignored; through /status it sticks
        var ignored = await Client.AppsV1.PatchNamespacedDeploymentAsync(Merge(new { status = new { replicas = 42 } }), "web", "default");
        Assert.NotEqual(42, ignored.Status?.Replicas);
        Sim.SetFaults(new KubeFaultOptions());
        await Eventually(async () => (await Client.AppsV1.ReadNamespacedDeploymentAsync("web", "default")).Status?.ObservedGeneration == 2, "observedGeneration 2");
    }

    [Fact]
    public async Task WatchStreamsEventsAndResumesFromAResourceVersion()
    {
        var events = new List<(WatchEventType, string)>();
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        var list = await Client.CoreV1.ListNamespacedConfigMapAsync("default");
        var watch = Task.Run(async () =>
        {
            await foreach (var (type, item) in Client.CoreV1.WatchListNamespacedConfigMapAsync("default", resourceVersion: list.Metadata.ResourceVersion, cancellationToken: cts.Token))
            {
                lock (events) events.Add((type, item.Name()));
                if (type == WatchEventType.Deleted) break;
            }
        }, cts.Token);
        await Task.Delay(100);
        await Client.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "w" } }, "default");
        await Client.CoreV1.PatchNamespacedConfigMapAsync(Merge(new { data = new { k = "v" } }), "w", "default");
        await Client.CoreV1.DeleteNamespacedConfigMapAsync("w", "default");
        await watch;
        Assert.Equal([(WatchEventType.Added, "w"), (WatchEventType.Modified, "w"), (WatchEventType.Deleted, "w")], events.Where(e => e.Item2 == "w").ToArray());

        // replay: a watch from the old resourceVersion sees the same three events
        var replay = new List<WatchEventType>();
        await foreach (var (type, item) in Client.CoreV1.WatchListNamespacedConfigMapAsync("default", resourceVersion: list.Metadata.ResourceVersion, cancellationToken: cts.Token))
        {
            if (item.Name() == "w") replay.Add(type);
            if (type == WatchEventType.Deleted) break;
        }
        Assert.Equal([WatchEventType.Added, WatchEventType.Modified, WatchEventType.Deleted], replay);
    }

    [Fact]
    public async Task DeletingADeploymentCascadesToReplicaSetsAndPods()
    {
        await Client.AppsV1.CreateNamespacedDeploymentAsync(Deployment("web", replicas: 2), "default");
        await Eventually(async () => (await Client.CoreV1.ListNamespacedPodAsync("default", labelSelector: "app=web")).Items.Count == 2, "two pods");
        await Eventually(async () => (await Client.AppsV1.ReadNamespacedDeploymentAsync("web", "default")).Status?.Conditions?.Any(c => c.Type == "Available" && c.Status == "True") == true, "Available");
        await Client.AppsV1.DeleteNamespacedDeploymentAsync("web", "default");
        await Eventually(async () => (await Client.CoreV1.ListNamespacedPodAsync("default", labelSelector: "app=web")).Items.Count == 0 &&
                                     (await Client.AppsV1.ListNamespacedReplicaSetAsync("default")).Items.Count == 0, "dependents gone");
    }

    [Fact]
    public async Task NamespaceDeletionWaitsForFinalizersAndRefusesNewContent()
    {
        await Client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "tmp" } });
        await Client.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "held", Finalizers = ["example.com/hold"] } }, "tmp");
        await Client.CoreV1.DeleteNamespaceAsync("tmp");
        var ns = await Client.CoreV1.ReadNamespaceAsync("tmp");
        Assert.Equal("Terminating", ns.Status.Phase);
        var (code, status) = await Fails(() => Client.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "late" } }, "tmp"));
        Assert.Equal(403, code);
        Assert.Contains("because it is being terminated", status["message"]!.GetValue<string>());
        await Eventually(async () => (await Client.CoreV1.ReadNamespaceAsync("tmp")).Status.Conditions?.Any(c => c.Type == "NamespaceFinalizersRemaining" && c.Status == "True") == true, "finalizer condition");
        await Client.CoreV1.PatchNamespacedConfigMapAsync(Merge(new { metadata = new { finalizers = (string[]?)null } }), "held", "tmp");
        await Eventually(async () => (await Client.CoreV1.ListNamespaceAsync()).Items.All(n => n.Name() != "tmp"), "namespace gone");
    }
}

public class KubeApiSimulatorCrdAndAdmissionTests : SimulatorTestBase
{
    private const string WidgetCrd = """
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata: {name: widgets.example.com}
        spec:
          group: example.com
          scope: Namespaced
          names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd]}
          versions:
          - name: v1
            served: true
            storage: true
            subresources: {status: {}}
            schema:
              openAPIV3Schema:
                type: object
                properties:
                  spec:
                    type: object
                    required: [size]
                    properties:
                      size: {type: integer, minimum: 1}
                      color: {type: string, enum: [red, blue]}
                  status:
                    type: object
                    x-kubernetes-preserve-unknown-fields: true
        """;

    private async Task<HttpOperationResponse<object>> CreateWidget(string body) =>
        await Client.CustomObjects.CreateNamespacedCustomObjectWithHttpMessagesAsync(Newtonsoft(body), "example.com", "v1", "default", "widgets");

    private static object Newtonsoft(string json) => System.Text.Json.JsonSerializer.Deserialize<System.Text.Json.JsonElement>(json);

    [Fact]
    public async Task CustomKindsAre404UntilTheCrdIsEstablishedThenValidatedAgainstTheSchema()
    {
        var (code, status) = await Fails(() => CreateWidget("""{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},"spec":{"size":1}}"""));
        Assert.Equal(404, code);
        Assert.Equal("the server could not find the requested resource", status["message"]!.GetValue<string>());

        await Client.ApiextensionsV1.PatchCustomResourceDefinitionAsync(Apply(WidgetCrd), "widgets.example.com", fieldManager: "test");
        await Eventually(async () => (await Client.ApiextensionsV1.ReadCustomResourceDefinitionAsync("widgets.example.com")).Status?.Conditions?.Any(c => c.Type == "Established" && c.Status == "True") == true, "Established");
        Assert.True(Sim.Serves("example.com/v1", "Widget"));

        (code, status) = await Fails(() => CreateWidget("""{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},"spec":{"size":0,"color":"green"}}"""));
        Assert.Equal(422, code);
        var message = status["message"]!.GetValue<string>();
        Assert.StartsWith("Widget.example.com \"w\" is invalid", message);
        Assert.Contains("spec.size", message);
        Assert.Contains("Unsupported value: \"green\"", message);

        var ok = await CreateWidget("""{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},"spec":{"size":2,"extra":true}}""");
        var stored = Sim.GetObject("example.com/v1", "Widget", "default", "w")!;
        Assert.Null(stored["spec"]!["extra"]); // pruned
        Assert.Contains(ok.Response.Headers.Warning, w => w.ToString().Contains("unknown field") && w.ToString().Contains("spec.extra"));

        // deleting the CRD removes its instances and stops serving the kind
        await Client.ApiextensionsV1.DeleteCustomResourceDefinitionAsync("widgets.example.com");
        await Eventually(() => Task.FromResult(!Sim.Serves("example.com/v1", "Widget")), "CRD gone");
    }

    [Fact]
    public async Task WebhooksWithoutEndpointsRejectUntilTheirDeploymentIsAvailable()
    {
        await Client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "hooks" } });
        await Client.CoreV1.CreateNamespacedServiceAsync(new V1Service
        {
            Metadata = new V1ObjectMeta { Name = "guard" },
            Spec = new V1ServiceSpec { Selector = new Dictionary<string, string> { ["app"] = "guard" }, Ports = [new V1ServicePort { Port = 443, TargetPort = 8443 }] },
        }, "hooks");
        await Client.AdmissionregistrationV1.CreateValidatingWebhookConfigurationAsync(new V1ValidatingWebhookConfiguration
        {
            Metadata = new V1ObjectMeta { Name = "guard" },
            Webhooks =
            [
                new V1ValidatingWebhook
                {
                    Name = "guard.example.com", SideEffects = "None", AdmissionReviewVersions = ["v1"],
                    ClientConfig = new Admissionregistrationv1WebhookClientConfig { Service = new Admissionregistrationv1ServiceReference { Name = "guard", NamespaceProperty = "hooks", Path = "/validate" } },
                    Rules = [new V1RuleWithOperations { ApiGroups = [""], ApiVersions = ["v1"], Operations = ["CREATE"], Resources = ["configmaps"] }],
                    NamespaceSelector = new V1LabelSelector { MatchLabels = new Dictionary<string, string> { ["guarded"] = "yes" } },
                },
            ],
        });
        await Client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "app", Labels = new Dictionary<string, string> { ["guarded"] = "yes" } } });
        var cm = new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "c" } };
        var (code, status) = await Fails(() => Client.CoreV1.CreateNamespacedConfigMapAsync(cm, "app"));
        Assert.Equal(500, code);
        Assert.Equal("InternalError", status["reason"]!.GetValue<string>());
        Assert.Equal("Internal error occurred: failed calling webhook \"guard.example.com\": failed to call webhook: Post \"https://guard.hooks.svc:443/validate?timeout=10s\": no endpoints available for service \"guard\"",
            status["message"]!.GetValue<string>());
        // a namespace the selector does not match is not affected
        await Client.CoreV1.CreateNamespacedConfigMapAsync(cm, "default");

        await Client.AppsV1.CreateNamespacedDeploymentAsync(Deployment("guard", "hooks"), "hooks");
        await Eventually(async () =>
        {
            try { await Client.CoreV1.CreateNamespacedConfigMapAsync(cm, "app"); return true; }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.InternalServerError) { return false; }
        }, "webhook reachable");
        Assert.True(Sim.Stats.WebhookFailures >= 1);
    }
}

public class KubeApiSimulatorFaultTests : SimulatorTestBase
{
    [Fact]
    public async Task ThrottlingAndServerErrorsAreInjectedWithRetryAfter()
    {
        Sim.SetFaults(new KubeFaultOptions { TooManyRequestsRate = 1, RetryAfterSeconds = 2, Seed = 1 });
        var ex = await Assert.ThrowsAsync<HttpOperationException>(() => Client.CoreV1.ListNamespacedConfigMapAsync("default"));
        Assert.Equal((HttpStatusCode)429, ex.Response.StatusCode);
        Assert.Equal("2", ex.Response.Headers["Retry-After"].Single());
        Assert.Contains("\"reason\":\"TooManyRequests\"", ex.Response.Content);

        Sim.SetFaults(new KubeFaultOptions { ServerErrorRate = 1, Seed = 2 });
        ex = await Assert.ThrowsAsync<HttpOperationException>(() => Client.CoreV1.ListNamespacedConfigMapAsync("default"));
        Assert.True((int)ex.Response.StatusCode >= 500);

        // discovery is never faulted
        Assert.NotNull(await Client.Version.GetCodeAsync());
        Sim.SetFaults(new KubeFaultOptions());
        Assert.NotNull(await Client.CoreV1.ListNamespacedConfigMapAsync("default"));
        Assert.True(Sim.Stats.TooManyRequestsInjected >= 1 && Sim.Stats.ServerErrorsInjected >= 1);
    }

    [Fact]
    public async Task DroppedWatchesEndTheStreamWithoutAClosingEvent()
    {
        Sim.SetFaults(new KubeFaultOptions { WatchDropRate = 1, WatchDropAfter = TimeSpan.FromMilliseconds(100), Seed = 3 });
        var ended = false;
        try
        {
            await foreach (var _ in Client.CoreV1.WatchListNamespacedConfigMapAsync("default", cancellationToken: new CancellationTokenSource(TimeSpan.FromSeconds(5)).Token)) { }
            ended = true;
        }
        catch (Exception e) when (e is IOException or HttpRequestException or OperationCanceledException) { ended = true; }
        Assert.True(ended);
        await Eventually(() => Task.FromResult(Sim.Stats.WatchesDropped == 1), "drop counted");
    }
}

public class KubeApiSimulatorSchedulingTests : SimulatorTestBase
{
    public KubeApiSimulatorSchedulingTests() : base(Options()) { }

    private static KubeApiSimulatorOptions Options()
    {
        var o = KubeApiSimulatorOptions.Fast(TimeSpan.FromMilliseconds(10));
        o.Nodes.AddRange(SimulatedNode.TpuPool("tpu", 1, "tpu-v6e-slice", "2x2", "ct6e-standard-4t", 4));
        return o;
    }

    [Fact]
    public async Task TpuPodsLandOnTpuNodesAndTheRestReportWhyTheyCannot()
    {
        var tpu = new V1ResourceRequirements { Requests = new Dictionary<string, ResourceQuantity> { ["google.com/tpu"] = new("4") }, Limits = new Dictionary<string, ResourceQuantity> { ["google.com/tpu"] = new("4") } };
        var selector = new Dictionary<string, string> { ["cloud.google.com/gke-tpu-accelerator"] = "tpu-v6e-slice", ["cloud.google.com/gke-tpu-topology"] = "2x2" };
        var toleration = new V1Toleration { Key = "google.com/tpu", OperatorProperty = "Exists", Effect = "NoSchedule" };
        await Client.AppsV1.CreateNamespacedDeploymentAsync(Deployment("vllm", replicas: 2, nodeSelector: selector, resources: tpu, tolerations: [toleration]), "default");
        await Eventually(async () => (await Client.CoreV1.ListNamespacedPodAsync("default", labelSelector: "app=vllm")).Items.Count(p => p.Status?.Phase == "Running") == 1, "one pod running");
        var pods = (await Client.CoreV1.ListNamespacedPodAsync("default", labelSelector: "app=vllm")).Items;
        Assert.Equal("gke-tpu-0000", pods.Single(p => p.Status.Phase == "Running").Spec.NodeName);
        var pending = pods.Single(p => p.Status.Phase == "Pending");
        var cond = pending.Status.Conditions.Single(c => c.Type == "PodScheduled");
        Assert.Equal("Unschedulable", cond.Reason);
        Assert.StartsWith("0/4 nodes are available: 1 Insufficient google.com/tpu, 3 node(s) didn't match Pod's node affinity/selector.", cond.Message);

        // without the toleration the taint is what blocks
        await Client.AppsV1.CreateNamespacedDeploymentAsync(Deployment("untolerated", nodeSelector: selector), "default");
        await Eventually(async () => (await Client.CoreV1.ListNamespacedPodAsync("default", labelSelector: "app=untolerated")).Items.FirstOrDefault()?.Status?.Conditions?
            .Any(c => c.Message?.Contains("untolerated taint {google.com/tpu: present}") == true) == true, "taint message");
    }
}
