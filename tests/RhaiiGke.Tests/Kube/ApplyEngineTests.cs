using System.Text.Json.Nodes;
using RhaiiGke.Engine.Kube;
using RhaiiGke.Engine.Kube.Platform;
using RhaiiGke.Sandbox.KubeApi;
using Xunit;
using Xunit.Abstractions;

namespace RhaiiGke.Tests.Kube;

internal static class Fast
{
    public static KubeApplyOptions Options(string? component = null, TimeSpan? timeout = null) => new()
    {
        Component = component, PollInterval = TimeSpan.FromMilliseconds(20), RetryBaseDelay = TimeSpan.FromMilliseconds(10),
        MaxRetryDelay = TimeSpan.FromMilliseconds(100), MaxRetries = 40, Timeout = timeout ?? TimeSpan.FromMinutes(3),
    };

    public static ClusterConnection Connect(KubeApiSimulator sim) =>
        RhaiiGke.Tests.KubeApi.SimClients.Connection(sim);
}

public sealed class ApplyEngineTests : IDisposable
{
    private readonly KubeApiSimulator _sim;
    private readonly ClusterConnection _conn;

    public ApplyEngineTests()
    {
        _sim = new KubeApiSimulator(KubeApiSimulatorOptions.Fast(TimeSpan.FromMilliseconds(15)));
        _sim.Start();
        _conn = Fast.Connect(_sim);
    }

    public void Dispose() => _sim.Dispose();

    private const string Bundle = """
        apiVersion: example.com/v1
        kind: Widget
        metadata: {name: w1, namespace: demo}
        spec: {size: 3}
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: widget-controller, namespace: demo}
        spec:
          selector: {matchLabels: {app: widget-controller}}
          template:
            metadata: {labels: {app: widget-controller}}
            spec:
              containers: [{name: manager, image: "example/widget:1"}]
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: widget-webhook, namespace: demo}
        spec:
          selector: {app: widget-controller}
          ports: [{port: 443, targetPort: 9443}]
        ---
        apiVersion: admissionregistration.k8s.io/v1
        kind: ValidatingWebhookConfiguration
        metadata: {name: widgets.example.com}
        webhooks:
        - name: vwidget.example.com
          sideEffects: None
          admissionReviewVersions: [v1]
          clientConfig:
            service: {name: widget-webhook, namespace: demo, path: /validate}
          rules:
          - {apiGroups: [example.com], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [widgets]}
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: widget-config, namespace: demo}
        data: {mode: fast}
        ---
        apiVersion: v1
        kind: Namespace
        metadata: {name: demo}
        """;

    private static string WithCrd() => Bundle + "\n---\n" + RhaiiGke.Tests.KubeApi.TestCrds.Crd("example.com", "Widget", "widgets");

    [Fact]
    public async Task AppliesInPhasesWaitsForReadinessAndReRunsWithZeroMutatingRequests()
    {
        var engine = new ApplyEngine(_conn);
        var first = await engine.ApplyAsync(WithCrd(), Fast.Options("widgets"), CancellationToken.None);
        Assert.All(first.Objects, o => Assert.Equal(KubeApplyAction.Created, o.Action));
        Assert.All(first.Objects, o => Assert.True(o.Ready, o.Id + ": " + o.Message));
        Assert.Equal(
            [ApplyEngine.PhaseNamespaces, ApplyEngine.PhaseCrds, ApplyEngine.PhaseConfiguration, ApplyEngine.PhaseConfiguration, ApplyEngine.PhaseWorkloads, ApplyEngine.PhaseWorkloads, ApplyEngine.PhaseCustomResources],
            first.Objects.Select(o => o.Phase).ToArray());
        // the CR was applied after the webhook had endpoints: no request was rejected by it
        Assert.Equal(0, _sim.Stats.WebhookFailures);
        Assert.NotNull(_sim.GetObject("example.com/v1", "Widget", "demo", "w1"));
        Assert.Equal(7, first.MutatingRequests);

        var before = _sim.Stats.MutatingRequests;
        var second = await engine.ApplyAsync(WithCrd(), Fast.Options("widgets"), CancellationToken.None);
        Assert.All(second.Objects, o => Assert.Equal(KubeApplyAction.Unchanged, o.Action));
        Assert.Equal(0, second.MutatingRequests);
        Assert.Equal(before, _sim.Stats.MutatingRequests);

        // one changed field: one request, one Configured
        var third = await engine.ApplyAsync(WithCrd().Replace("mode: fast", "mode: slow"), Fast.Options("widgets"), CancellationToken.None);
        var changed = Assert.Single(third.Objects, o => o.Action != KubeApplyAction.Unchanged);
        Assert.Equal("ConfigMap demo/widget-config", changed.Id);
        Assert.Equal(KubeApplyAction.Configured, changed.Action);
        Assert.Equal(1, third.MutatingRequests);
        Assert.Equal("slow", _sim.GetObject("v1", "ConfigMap", "demo", "widget-config")!["data"]!["mode"]!.GetValue<string>());

        // a field dropped from the manifest is removed by apply, so it counts as a change
        var fourth = await engine.ApplyAsync(WithCrd().Replace("data: {mode: slow}", "data: {}").Replace("mode: fast", "x: y"), Fast.Options("widgets"), CancellationToken.None);
        Assert.Contains(fourth.Objects, o => o.Id == "ConfigMap demo/widget-config" && o.Action == KubeApplyAction.Configured);
    }

    [Fact]
    public async Task WhatIfUsesServerSideDryRunAndPersistsNothing()
    {
        var engine = new ApplyEngine(_conn);
        var options = Fast.Options("widgets");
        options.DryRun = true;
        var result = await engine.ApplyAsync(WithCrd(), options, CancellationToken.None);
        Assert.All(result.Objects, o => Assert.Equal(KubeApplyAction.WouldCreate, o.Action));
        Assert.Null(_sim.GetObject("v1", "Namespace", null, "demo"));
        Assert.False(_sim.Serves("example.com/v1", "Widget"));
        Assert.True(_sim.Stats.DryRunRequests > 0);
        Assert.Equal(_sim.Stats.DryRunRequests, _sim.Stats.MutatingRequests);
    }

    [Fact]
    public async Task TimeoutsNameTheObjectAndWhyItIsNotReady()
    {
        const string stuck = """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: needs-tpu, namespace: default}
            spec:
              selector: {matchLabels: {app: needs-tpu}}
              template:
                metadata: {labels: {app: needs-tpu}}
                spec:
                  nodeSelector: {cloud.google.com/gke-tpu-accelerator: tpu-v6e-slice}
                  containers: [{name: vllm, image: "vllm:tpu"}]
            """;
        var ex = await Assert.ThrowsAsync<RhaiiException>(() => new ApplyEngine(_conn).ApplyAsync(stuck, Fast.Options("vllm", TimeSpan.FromMilliseconds(400)), CancellationToken.None));
        Assert.Equal("ComponentNotReady", ex.ErrorId);
        Assert.Equal(RhaiiErrorCategory.OperationTimeout, ex.Category);
        Assert.StartsWith("vllm: timed out after", ex.Message);
        Assert.Contains("Deployment default/needs-tpu is not ready", ex.Message);
        Assert.Contains("condition Available=False (MinimumReplicasUnavailable", ex.Message);
        Assert.Contains("0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector", ex.Message);
        Assert.Equal("vllm", ex.Target);
    }

    [Fact]
    public async Task KubernetesStatusErrorsBecomeRhaiiExceptionsWithStableIds()
    {
        const string invalid = """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: bad, namespace: default}
            spec:
              selector: {matchLabels: {app: bad}}
              template:
                metadata: {labels: {app: other}}
                spec:
                  containers: [{name: c, image: x}]
            """;
        var ex = await Assert.ThrowsAsync<RhaiiException>(() => new ApplyEngine(_conn).ApplyAsync(invalid, Fast.Options("demo"), CancellationToken.None));
        Assert.Equal("KubeInvalid", ex.ErrorId);
        Assert.Equal(RhaiiErrorCategory.InvalidData, ex.Category);
        Assert.Contains("demo: applying Deployment default/bad: Deployment.apps \"bad\" is invalid: spec.template.metadata.labels", ex.Message);

        var cr = "apiVersion: nothere.example.com/v1\nkind: Gadget\nmetadata: {name: g, namespace: default}\n";
        var options = Fast.Options("demo");
        options.MaxRetries = 2;
        var notServed = await Assert.ThrowsAsync<RhaiiException>(() => new ApplyEngine(_conn).ApplyAsync(cr, options, CancellationToken.None));
        Assert.Equal("KubeResourceNotServed", notServed.ErrorId);
        Assert.Contains("no matches for kind \"Gadget\" in version \"nothere.example.com/v1\"", notServed.Message);
    }

    [Fact]
    public async Task ARequestRejectedByAWebhookWithoutEndpointsIsRetriedUntilTheWebhookWorks()
    {
        // the webhook exists but its operator starts later (another team's install, a slow rollout): the engine
        // retries through "no endpoints available" instead of failing, and never deletes the webhook
        var setup = Fast.Options("setup");
        setup.Wait = false;
        var parts = RhaiiGke.Engine.Kube.Json.KubeYaml.ReadObjects(WithCrd()).Where(o => o["kind"]!.GetValue<string>() is not ("Deployment" or "Widget")).ToList();
        await new ApplyEngine(_conn).ApplyAsync(parts, setup, CancellationToken.None);
        await WaitFor(() => _sim.Serves("example.com/v1", "Widget"));
        var operatorStarts = Task.Run(async () =>
        {
            await Task.Delay(300);
            _sim.Seed(RhaiiGke.Tests.KubeApi.TestCrds.Operator("demo", "widget-controller"));
        });
        var result = await new ApplyEngine(_conn).ApplyAsync("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w2, namespace: demo}\nspec: {size: 1}\n",
            Fast.Options("widgets"), CancellationToken.None);
        await operatorStarts;
        Assert.Equal(KubeApplyAction.Created, Assert.Single(result.Objects).Action);
        Assert.True(result.Retries > 0);
        Assert.True(result.TransientErrors.TryGetValue("WebhookUnavailable", out var n) && n > 0);
        Assert.True(_sim.Stats.WebhookFailures > 0);
        Assert.NotNull(_sim.GetObject("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", null, "widgets.example.com"));
    }

    [Fact]
    public void CustomResourcesThatAWebhookOfTheSameRunInterceptsAreAppliedAfterTheWorkloads()
    {
        var objects = RhaiiGke.Engine.Kube.Json.KubeYaml.ReadObjects(Bundle);
        var gated = new HashSet<string>(["example.com/Widget"]);
        Assert.Equal(ApplyEngine.PhaseCustomResources, ApplyEngine.PhaseOf(objects[0], gated));
        Assert.Equal(ApplyEngine.PhaseConfiguration, ApplyEngine.PhaseOf(objects[0], new HashSet<string>()));
    }

    private static async Task WaitFor(Func<bool> condition)
    {
        // an event (the condition), with a limit that holds on a loaded machine
        var until = DateTime.UtcNow.AddMinutes(2);
        while (!condition() && DateTime.UtcNow < until) await Task.Delay(10);
        Assert.True(condition());
    }
}

public sealed class PlatformInstallerTests(ITestOutputHelper output)
{
    private static KubeApiSimulatorOptions SimOptions()
    {
        var o = KubeApiSimulatorOptions.Fast(TimeSpan.FromMilliseconds(15));
        o.Delays.CaInjection = TimeSpan.FromMilliseconds(150); // a visible stale-CA window
        o.Delays.CrdEstablished = TimeSpan.FromMilliseconds(60);
        return o;
    }

    private static RhaiiInstallOptions InstallOptions() => new() { Apply = Fast.Options(timeout: TimeSpan.FromMinutes(5)) };

    [Fact]
    public async Task AFreshInstallConvergesAndASecondInstallSendsNoMutatingRequest()
    {
        using var sim = new KubeApiSimulator(SimOptions());
        sim.Start();
        var installer = new PlatformInstaller(Fast.Connect(sim));
        var platform = await installer.InstallAsync(InstallOptions(), CancellationToken.None);
        Assert.True(platform.Ready, string.Join("; ", platform.Components.Select(c => $"{c.Name}: {c.State} {c.Message}")));
        Assert.Equal(["cert-manager", "istio", "lws", "kserve"], platform.Components.Select(c => c.Name).ToArray());
        Assert.Equal("v1.27.3", platform.IstioVersion);
        Assert.Equal("inference.networking.x-k8s.io/v1alpha2", platform.GatewayInferencePoolApi);
        Assert.Contains("inference.networking.k8s.io/v1", platform.InferencePoolApis);
        Assert.Contains("istio (Accepted)", platform.GatewayClasses);
        Assert.All(platform.Components, c => Assert.Equal("sandbox", c.Source));
        // no webhook was ever deleted
        Assert.NotNull(sim.GetObject("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", null, "llminferenceservice.serving.kserve.io"));
        Assert.NotNull(sim.GetObject("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", null, "cert-manager-webhook"));
        // the KServe PKI chain: the webhook certificate is signed by the opendatahub CA
        var leaf = sim.GetObject("v1", "Secret", "opendatahub", "llmisvc-webhook-server-cert")!;
        Assert.Equal("kubernetes.io/tls", leaf["type"]!.GetValue<string>());
        output.WriteLine($"fresh install: {platform.Duration.TotalSeconds:0.00}s, {platform.MutatingRequests} mutating requests, {platform.Retries} retries, webhook failures seen {sim.Stats.WebhookFailures}");
        foreach (var e in sim.ControllerErrors) output.WriteLine("controller error: " + e);
        Assert.Empty(sim.ControllerErrors);

        var before = sim.Stats.MutatingRequests;
        var again = await installer.InstallAsync(InstallOptions(), CancellationToken.None);
        Assert.True(again.Ready);
        Assert.Equal(0, again.MutatingRequests);
        Assert.Equal(before, sim.Stats.MutatingRequests);
        Assert.All(again.Components, c => Assert.All(c.Apply!.Objects, o => Assert.Equal(KubeApplyAction.Unchanged, o.Action)));

        var status = await installer.GetStatusAsync(null, CancellationToken.None);
        Assert.True(status.Ready);
        Assert.Contains("cert-manager/cert-manager-webhook 1/1", status.Components[0].Deployments);
        Assert.True(status.Components[0].WebhooksReady);
    }

    [Fact]
    public async Task WithTenPercentInjectedFaultsTheInstallStillConverges()
    {
        var options = SimOptions();
        options.Faults = KubeFaultOptions.Mixed(0.10, seed: 42);
        using var sim = new KubeApiSimulator(options);
        sim.Start();
        var platform = await new PlatformInstaller(Fast.Connect(sim)).InstallAsync(InstallOptions(), CancellationToken.None);
        Assert.True(platform.Ready, string.Join("; ", platform.Components.Select(c => $"{c.Name}: {c.State} {c.Message}")));
        var stats = sim.Stats;
        Assert.True(stats.FaultsInjected > 0);
        Assert.True(platform.Retries > 0);
        output.WriteLine($"10% faults: {stats.FaultsInjected} injected (5xx {stats.ServerErrorsInjected}, 429 {stats.TooManyRequestsInjected}, conflicts {stats.ConflictsInjected}, " +
                         $"slow {stats.SlowResponsesInjected}), {platform.Retries} retries, {stats.Requests} requests, converged in {platform.Duration.TotalSeconds:0.00}s");
    }

    [Fact]
    public async Task WhatIfReportsWhatWouldBeCreatedWithoutChangingTheCluster()
    {
        using var sim = new KubeApiSimulator(SimOptions());
        sim.Start();
        var options = InstallOptions();
        options.Apply.DryRun = true;
        options.Components = ["cert-manager"];
        var platform = await new PlatformInstaller(Fast.Connect(sim)).InstallAsync(options, CancellationToken.None);
        Assert.True(platform.DryRun);
        Assert.All(platform.Components[0].Apply!.Objects, o => Assert.Equal(KubeApplyAction.WouldCreate, o.Action));
        Assert.Null(sim.GetObject("v1", "Namespace", null, "cert-manager"));
    }

    [Fact]
    public async Task AnInstallThatCannotScheduleNamesTheComponentAndTheMissingCondition()
    {
        var options = SimOptions();
        options.Nodes.Clear();
        using var sim = new KubeApiSimulator(options);
        sim.Start();
        var install = InstallOptions();
        install.Apply.Timeout = TimeSpan.FromMilliseconds(500);
        var ex = await Assert.ThrowsAsync<RhaiiException>(() => new PlatformInstaller(Fast.Connect(sim)).InstallAsync(install, CancellationToken.None));
        Assert.Equal("ComponentNotReady", ex.ErrorId);
        Assert.StartsWith("cert-manager: timed out after", ex.Message);
        Assert.Contains("Deployment cert-manager/cert-manager is not ready: condition Available=False", ex.Message);
        Assert.Contains("no nodes available to schedule pods", ex.Message);
    }

    [Fact]
    public async Task UninstallRemovesEverythingButGkeManagedCrds()
    {
        using var sim = new KubeApiSimulator(SimOptions());
        sim.Start();
        // GKE installed the Gateway API GatewayClass CRD itself (addon-manager label)
        var gkeCrd = SandboxBundles.GatewayApiCrds()[0];
        gkeCrd["metadata"]!["labels"] = new JsonObject { ["addonmanager.kubernetes.io/mode"] = "Reconcile" };
        sim.Seed(gkeCrd);
        var installer = new PlatformInstaller(Fast.Connect(sim));
        var platform = await installer.InstallAsync(InstallOptions(), CancellationToken.None);
        Assert.Contains("gatewayclasses.gateway.networking.k8s.io", platform.GkeManagedCrds);
        Assert.Contains(platform.Components[1].Apply!.Objects, o => o.Name == "gatewayclasses.gateway.networking.k8s.io" && o.Action == KubeApplyAction.Skipped);

        var removed = await installer.UninstallAsync(InstallOptions(), CancellationToken.None);
        Assert.All(removed.Components, c => Assert.Equal("NotInstalled", c.State));
        Assert.NotNull(sim.GetObject("apiextensions.k8s.io/v1", "CustomResourceDefinition", null, "gatewayclasses.gateway.networking.k8s.io"));
        Assert.Null(sim.GetObject("apiextensions.k8s.io/v1", "CustomResourceDefinition", null, "llminferenceservices.serving.kserve.io"));
        Assert.Null(sim.GetObject("v1", "Namespace", null, "opendatahub"));
    }

    [Fact]
    public async Task ThePullSecretLandsInEveryNamespaceThatNeedsItAndNeverInOutput()
    {
        using var sim = new KubeApiSimulator(SimOptions());
        sim.Start();
        var options = InstallOptions();
        options.Components = ["cert-manager", "istio"];
        options.PullSecretNamespaces = ["rhaii-inference"];
        var config = "{\"auths\":{\"registry.redhat.io\":{\"auth\":\"dXNlcjpzM2NyM3Q=\"}}}";
        options.PullSecretConfig = new System.Security.SecureString();
        foreach (var ch in config) options.PullSecretConfig.AppendChar(ch);
        sim.Seed("apiVersion: v1\nkind: Namespace\nmetadata: {name: rhaii-inference}\n");
        var platform = await new PlatformInstaller(Fast.Connect(sim)).InstallAsync(options, CancellationToken.None);
        Assert.True(platform.Ready);
        Assert.Equal("rhaii-pull-secret", platform.PullSecret);
        Assert.Equal(["rhaii-inference", "sail-operator", "istio-system"], platform.PullSecretNamespaces.OrderBy(n => n == "rhaii-inference" ? 0 : 1).ToArray());
        foreach (var ns in platform.PullSecretNamespaces)
        {
            var secret = sim.GetObject("v1", "Secret", ns, "rhaii-pull-secret")!;
            Assert.Equal("kubernetes.io/dockerconfigjson", secret["type"]!.GetValue<string>());
            Assert.Equal(config, System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(secret["data"]![".dockerconfigjson"]!.GetValue<string>())));
        }
        var sa = sim.GetObject("v1", "ServiceAccount", "sail-operator", "sail-operator")!;
        Assert.Equal("rhaii-pull-secret", sa["imagePullSecrets"]![0]!["name"]!.GetValue<string>());
        var istio = sim.GetObject("sailoperator.io/v1", "Istio", null, "default")!;
        Assert.Equal("rhaii-pull-secret", istio["spec"]!["values"]!["global"]!["imagePullSecrets"]![0]!.GetValue<string>());
        // the secret's content appears in no output property
        var json = System.Text.Json.JsonSerializer.Serialize(platform);
        Assert.DoesNotContain("dXNlcjpzM2NyM3Q", json);
        Assert.DoesNotContain("auths", json);
    }

    [RhaiiGke.Tests.KubeApi.KubectlFact]
    public async Task AKustomizeFolderSourceIsBuiltWithKubectlKustomize()
    {
        var dir = Directory.CreateTempSubdirectory("rhaii-kustomize-");
        try
        {
            var objects = RhaiiGke.Engine.Kube.Json.KubeYaml.ReadObjects(RhaiiGke.Engine.Kube.Json.KubeYaml.WriteAll(SandboxBundles.For("lws")));
            File.WriteAllText(Path.Combine(dir.FullName, "lws.yaml"), RhaiiGke.Engine.Kube.Json.KubeYaml.WriteAll(objects));
            File.WriteAllText(Path.Combine(dir.FullName, "kustomization.yaml"), "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [lws.yaml]\ncommonLabels: {rhaii.example/from: kustomize}\n");
            using var sim = new KubeApiSimulator(SimOptions());
            sim.Start();
            var options = InstallOptions();
            options.Components = ["lws"];
            options.Sources["lws"] = dir.FullName;
            var platform = await new PlatformInstaller(Fast.Connect(sim)).InstallAsync(options, CancellationToken.None);
            Assert.True(platform.Ready, platform.Components[0].Message);
            Assert.Equal(dir.FullName, platform.Components[0].Source);
            var d = sim.GetObject("apps/v1", "Deployment", "lws-system", "lws-controller-manager")!;
            Assert.Equal("kustomize", d["metadata"]!["labels"]!["rhaii.example/from"]!.GetValue<string>());
        }
        finally { dir.Delete(true); }
    }

    [Fact]
    public async Task AStaleWebhookCaAfterRotationIsRetriedThroughUntilTheCainjectorCatchesUp()
    {
        using var sim = new KubeApiSimulator(SimOptions());
        sim.Start();
        var conn = Fast.Connect(sim);
        var options = InstallOptions();
        options.Components = ["cert-manager"];
        Assert.True((await new PlatformInstaller(conn).InstallAsync(options, CancellationToken.None)).Ready);

        // the webhook's CA rotates: the injected caBundle is stale until the cainjector re-injects; 2 s, so that the
        // apply below lands inside the window even on a loaded machine (the apply's retries outlast it)
        sim.Options.Delays.CaInjection = TimeSpan.FromSeconds(2);
        using var key = System.Security.Cryptography.ECDsa.Create();
        var req = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=cert-manager-webhook-ca", key, System.Security.Cryptography.HashAlgorithmName.SHA256);
        var pem = req.CreateSelfSigned(DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddDays(1)).ExportCertificatePem();
        var b64 = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(pem));
        sim.Seed($"apiVersion: v1\nkind: Secret\nmetadata: {{name: cert-manager-webhook-ca, namespace: cert-manager}}\ndata: {{ca.crt: {b64}, tls.crt: {b64}, tls.key: {b64}}}\n");
        var failuresBefore = sim.Stats.WebhookFailures;

        var result = await new ApplyEngine(conn).ApplyAsync(
            "apiVersion: cert-manager.io/v1\nkind: Issuer\nmetadata: {name: after-rotation, namespace: default}\nspec: {selfSigned: {}}\n", Fast.Options("issuer"), CancellationToken.None);
        Assert.Equal(KubeApplyAction.Created, Assert.Single(result.Objects).Action);
        Assert.True(result.TransientErrors.TryGetValue("WebhookUnavailable", out var n) && n > 0, "the stale-CA window was not hit");
        Assert.True(sim.Stats.WebhookFailures > failuresBefore);
        var cfg = sim.GetObject("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", null, "cert-manager-webhook")!;
        Assert.Equal(b64, cfg["webhooks"]![0]!["clientConfig"]!["caBundle"]!.GetValue<string>());
    }
}
