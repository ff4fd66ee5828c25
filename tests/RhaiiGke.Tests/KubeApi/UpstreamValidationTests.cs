using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using RhaiiGke.Engine.Kube.Json;
using RhaiiGke.Engine.Kube.Platform;
using RhaiiGke.Sandbox.KubeApi;
using RhaiiGke.Tests.Infrastructure;
using Xunit;

namespace RhaiiGke.Tests.KubeApi;

/// <summary>
/// The sandbox validates as a real API server when given the upstream schema folder: CRDs installed from the
/// stand-in bundles are served with the upstream structural schemas, built-in kinds are decoded against the
/// Kubernetes OpenAPI, fieldValidation Strict/Warn/Ignore behave as kube-apiserver's, size limits hold, and
/// /openapi carries the schemas kubectl explain reads.
/// </summary>
public sealed class UpstreamValidationTests
{
    private static KubeApiSimulator Start(bool strict = false, bool withSchemas = true)
    {
        var o = KubeApiSimulatorOptions.Fast(TimeSpan.FromMilliseconds(5));
        if (withSchemas) o.CrdSchemaPath = UpstreamSchemas.Root;
        o.ForceStrictFieldValidation = strict;
        var sim = new KubeApiSimulator(o);
        sim.Start();
        return sim;
    }

    private static HttpClient Http(KubeApiSimulator sim)
    {
        var h = sim.HttpClient();
        h.BaseAddress = sim.Endpoint;
        h.Timeout = TimeSpan.FromSeconds(60);
        return h;
    }

    private static async Task<(int Code, JsonObject Body, string[] Warnings)> Send(HttpClient h, HttpMethod method, string path, string? json = null, string contentType = "application/json")
    {
        using var req = new HttpRequestMessage(method, path);
        if (json is not null) req.Content = new StringContent(json, Encoding.UTF8, new MediaTypeHeaderValue(contentType));
        using var res = await h.SendAsync(req);
        var text = await res.Content.ReadAsStringAsync();
        var warnings = res.Headers.TryGetValues("Warning", out var w) ? w.ToArray() : [];
        return ((int)res.StatusCode, JsonNode.Parse(text) as JsonObject ?? [], warnings);
    }

    /// <summary>Installs the sandbox bundle's CRDs of <paramref name="component"/> (the stand-ins) and waits until <paramref name="apiVersion"/> <paramref name="kind"/> is served.</summary>
    private static async Task InstallCrds(KubeApiSimulator sim, HttpClient h, string component, string apiVersion, string kind)
    {
        foreach (var crd in SandboxBundles.For(component).Where(o => o.Str("kind") == "CustomResourceDefinition"))
        {
            var (code, body, _) = await Send(h, HttpMethod.Post, "apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd.ToJsonString());
            Assert.True(code == 201, body.ToJsonString());
        }
        for (var i = 0; i < 500 && !sim.Serves(apiVersion, kind); i++) await Task.Delay(10);
        Assert.True(sim.Serves(apiVersion, kind), $"{apiVersion} {kind} served");
    }

    private static async Task Namespace(HttpClient h, string name) =>
        await Send(h, HttpMethod.Post, "api/v1/namespaces", $$$"""{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"{{{name}}}"}}""");

    private const string LlmPath = "apis/serving.kserve.io/v1alpha1/namespaces/llm/llminferenceservices";

    private static string Llm(string name, string specExtra = "") =>
        "{\"apiVersion\":\"serving.kserve.io/v1alpha1\",\"kind\":\"LLMInferenceService\",\"metadata\":{\"name\":\"" + name + "\",\"namespace\":\"llm\"}," +
        "\"spec\":{\"model\":{\"uri\":\"hf://Qwen/Qwen2.5-3B-Instruct\",\"name\":\"Qwen/Qwen2.5-3B-Instruct\"},\"replicas\":1" + specExtra + "," +
        "\"template\":{\"containers\":[{\"name\":\"main\",\"image\":\"registry.redhat.io/rhaiis/vllm-tpu-rhel9:3.2.5\"}]}}}";

    [Fact]
    public void WithoutASchemaFolderTheSandboxSaysItRunsTheStandIns()
    {
        using var sim = Start(withSchemas: false);
        Assert.StartsWith("stand-in schemas", sim.Validation);
    }

    [SchemaFact]
    public void StartRhaiiSandboxSaysWhichValidationItRunsAndRefusesAMissingFolder()
    {
        using var ps = new PowerShellHost();
        var (_, errors) = ps.Invoke("Start-RhaiiSandbox -Name nofolder -CrdSchemaPath /nonexistent/crd-schemas -NoConnect");
        var error = Assert.Single(errors);
        Assert.StartsWith("CrdSchemaPathNotFound", error.FullyQualifiedErrorId);
        var sb = (RhaiiSandbox)ps.Run($"Start-RhaiiSandbox -Name schemas -CrdSchemaPath '{UpstreamSchemas.Root}' -NoConnect")[0].BaseObject;
        try { Assert.StartsWith($"upstream schemas from {Path.GetFullPath(UpstreamSchemas.Root!)}", sb.Validation); }
        finally { ps.Run("Stop-RhaiiSandbox schemas"); }
        ps.Run("Start-RhaiiSandbox -Name nofolder -NoConnect | Out-Null; Stop-RhaiiSandbox nofolder"); // the refused name was never taken
    }

    [SchemaFact]
    public async Task UnknownFieldsOfACustomResourceAreRejectedWarnedOrIgnoredAsFieldValidationSays()
    {
        using var sim = Start();
        Assert.Equal($"upstream schemas from {Path.GetFullPath(UpstreamSchemas.Root!)} (built-in kinds: swagger-v1.32.0.json)", sim.Validation);
        using var h = Http(sim);
        await InstallCrds(sim, h, "kserve", "serving.kserve.io/v1alpha1", "LLMInferenceService");
        await Namespace(h, "llm");

        var bogus = Llm("x", ""","bogusField":true""");
        var (code, status, _) = await Send(h, HttpMethod.Post, LlmPath + "?fieldValidation=Strict", bogus);
        Assert.Equal(400, code);
        Assert.Equal("BadRequest", status["reason"]!.GetValue<string>());
        Assert.Equal("LLMInferenceService in version \"v1alpha1\" cannot be handled as a LLMInferenceService: strict decoding error: unknown field \"spec.bogusField\"",
            status["message"]!.GetValue<string>());
        Assert.Null(sim.GetObject("serving.kserve.io/v1alpha1", "LLMInferenceService", "llm", "x"));

        // the default (Warn): created, the field pruned, one Warning header
        var (created, _, warnings) = await Send(h, HttpMethod.Post, LlmPath, bogus);
        Assert.Equal(201, created);
        Assert.Equal(["299 - \"unknown field \\\"spec.bogusField\\\"\""], warnings);
        Assert.Null(sim.GetObject("serving.kserve.io/v1alpha1", "LLMInferenceService", "llm", "x")!["spec"]!["bogusField"]);

        // Ignore: pruned silently
        var (ignored, _, none) = await Send(h, HttpMethod.Post, LlmPath + "?fieldValidation=Ignore", Llm("y", ""","bogusField":true"""));
        Assert.Equal(201, ignored);
        Assert.Empty(none);
        Assert.Null(sim.GetObject("serving.kserve.io/v1alpha1", "LLMInferenceService", "llm", "y")!["spec"]!["bogusField"]);

        // nested: the scheduler has no image field upstream
        (code, status, _) = await Send(h, HttpMethod.Post, LlmPath + "?fieldValidation=Strict", Llm("z", ""","router":{"scheduler":{"image":"epp:1"}}"""));
        Assert.Equal(400, code);
        Assert.EndsWith("strict decoding error: unknown field \"spec.router.scheduler.image\"", status["message"]!.GetValue<string>());

        // server-side apply converts to a typed object first: an undeclared field fails whatever fieldValidation says
        var applied = Llm("x", ""","bogusField":true""");
        (code, status, _) = await Send(h, HttpMethod.Patch, LlmPath + "/x?fieldManager=kubectl&fieldValidation=Ignore", applied, "application/apply-patch+yaml");
        Assert.Equal(500, code);
        Assert.Equal("failed to create typed patch object (llm/x; serving.kserve.io/v1alpha1, Kind=LLMInferenceService): .spec.bogusField: field not declared in schema",
            status["message"]!.GetValue<string>());
    }

    [SchemaFact]
    public async Task ACustomResourceOfTheWrongTypeIsInvalidWithTheRealStatusBody()
    {
        using var sim = Start();
        using var h = Http(sim);
        await InstallCrds(sim, h, "kserve", "serving.kserve.io/v1alpha1", "LLMInferenceService");
        await Namespace(h, "llm");
        var (code, status, _) = await Send(h, HttpMethod.Post, LlmPath, Llm("x").Replace("\"replicas\":1", "\"replicas\":\"string\""));
        Assert.Equal(422, code);
        Assert.Equal("Invalid", status["reason"]!.GetValue<string>());
        Assert.Equal("LLMInferenceService.serving.kserve.io \"x\" is invalid: spec.replicas: Invalid value: \"string\": spec.replicas in body must be of type integer: \"string\"",
            status["message"]!.GetValue<string>());
        var cause = Assert.Single(status["details"]!["causes"]!.AsArray())!;
        Assert.Equal("spec.replicas", cause["field"]!.GetValue<string>());
        Assert.Equal("FieldValueTypeInvalid", cause["reason"]!.GetValue<string>());

        (code, status, _) = await Send(h, HttpMethod.Post, LlmPath, Llm("x").Replace("\"replicas\":1", "\"replicas\":3000000000"));
        Assert.Equal(422, code);
        Assert.Contains("spec.replicas in body must be of type int32: \"3000000000\"", status["message"]!.GetValue<string>());
    }

    [SchemaFact]
    public async Task HttpRouteTyposArePrunedWithAWarning()
    {
        using var sim = Start();
        using var h = Http(sim);
        await InstallCrds(sim, h, "istio", "gateway.networking.k8s.io/v1", "HTTPRoute");
        var route = """
            {"apiVersion":"gateway.networking.k8s.io/v1","kind":"HTTPRoute","metadata":{"name":"r"},
             "spec":{"parentRefs":[{"name":"gw"}],"rules":[{"timeouts":{"backendRequestt":"10s"},"backendRefs":[{"name":"svc","port":8000}]}]}}
            """;
        var (code, _, warnings) = await Send(h, HttpMethod.Post, "apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes", route);
        Assert.Equal(201, code);
        Assert.Equal(["299 - \"unknown field \\\"spec.rules[0].timeouts.backendRequestt\\\"\""], warnings);
        var stored = sim.GetObject("gateway.networking.k8s.io/v1", "HTTPRoute", "default", "r")!;
        Assert.Equal("{}", stored["spec"]!["rules"]![0]!["timeouts"]!.ToJsonString());
    }

    [SchemaFact]
    public async Task BuiltInKindsAreDecodedAgainstTheKubernetesOpenApi()
    {
        using var sim = Start();
        using var h = Http(sim);
        const string cm = """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"a":"b"},"bogus":1}""";
        var (code, status, _) = await Send(h, HttpMethod.Post, "api/v1/namespaces/default/configmaps?fieldValidation=Strict", cm);
        Assert.Equal(400, code);
        Assert.Equal("ConfigMap in version \"v1\" cannot be handled as a ConfigMap: strict decoding error: unknown field \"bogus\"", status["message"]!.GetValue<string>());

        // a directive the server does not know fails the write
        (code, status, _) = await Send(h, HttpMethod.Post, "api/v1/namespaces/default/configmaps?fieldValidation=strict", cm);
        Assert.Equal(422, code);
        Assert.Equal("CreateOptions.meta.k8s.io \"\" is invalid: fieldValidation: Unsupported value: \"strict\": supported values: \"\", \"Ignore\", \"Strict\", \"Warn\"",
            status["message"]!.GetValue<string>());

        var (created, _, warnings) = await Send(h, HttpMethod.Post, "api/v1/namespaces/default/configmaps", cm);
        Assert.Equal(201, created);
        Assert.Equal(["299 - \"unknown field \\\"bogus\\\"\""], warnings);
        Assert.Null(sim.GetObject("v1", "ConfigMap", "default", "c")!["bogus"]);

        // nested unknown fields of a Deployment, and a value of the wrong type as the Go decoder reports it
        var deploy = """
            {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},
             "spec":{"replicas":1,"selector":{"matchLabels":{"app":"d"}},
                     "template":{"metadata":{"labels":{"app":"d"}},"spec":{"containers":[{"name":"main","image":"x","bogus":true}]}}}}
            """;
        (code, status, _) = await Send(h, HttpMethod.Post, "apis/apps/v1/namespaces/default/deployments?fieldValidation=Strict", deploy);
        Assert.Equal(400, code);
        Assert.EndsWith("strict decoding error: unknown field \"spec.template.spec.containers[0].bogus\"", status["message"]!.GetValue<string>());
        (code, status, _) = await Send(h, HttpMethod.Post, "apis/apps/v1/namespaces/default/deployments", deploy.Replace("\"replicas\":1", "\"replicas\":\"two\""));
        Assert.Equal(400, code);
        Assert.Equal("Deployment in version \"v1\" cannot be handled as a Deployment: json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32",
            status["message"]!.GetValue<string>());

        // quantities take numbers and strings, as the real decoder does
        var (ok, body, none) = await Send(h, HttpMethod.Post, "apis/apps/v1/namespaces/default/deployments",
            deploy.Replace(",\"bogus\":true", ",\"resources\":{\"requests\":{\"cpu\":1,\"memory\":\"1Gi\"}}"));
        Assert.True(ok == 201, body.ToJsonString());
        Assert.Empty(none);

        // server-side apply of a built-in with an undeclared field
        (code, status, _) = await Send(h, HttpMethod.Patch, "api/v1/namespaces/default/configmaps/c2?fieldManager=kubectl",
            """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c2"},"bogus":1}""", "application/apply-patch+yaml");
        Assert.Equal(500, code);
        Assert.Equal("failed to create typed patch object (default/c2; v1, Kind=ConfigMap): .bogus: field not declared in schema", status["message"]!.GetValue<string>());
        // list elements are named by their keys, as structured-merge-diff prints paths
        (code, status, _) = await Send(h, HttpMethod.Patch, "apis/apps/v1/namespaces/default/deployments/d?fieldManager=kubectl", deploy, "application/apply-patch+yaml");
        Assert.Equal(500, code);
        Assert.Equal("failed to create typed patch object (default/d; apps/v1, Kind=Deployment): .spec.template.spec.containers[name=\"main\"].bogus: field not declared in schema",
            status["message"]!.GetValue<string>());

        // a custom resource's or built-in's metadata is an ObjectMeta
        (code, status, _) = await Send(h, HttpMethod.Post, "api/v1/namespaces/default/configmaps?fieldValidation=Strict",
            """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"m","labelz":{"a":"b"}}}""");
        Assert.Equal(400, code);
        Assert.EndsWith("strict decoding error: unknown field \"metadata.labelz\"", status["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task SizeLimitsHoldAsOnARealServer()
    {
        using var sim = Start(withSchemas: false);
        using var h = Http(sim);
        var big = new string('a', 300 * 1024);
        var (code, status, _) = await Send(h, HttpMethod.Post, "api/v1/namespaces/default/configmaps",
            "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"ann\",\"annotations\":{\"x\":\"" + big + "\"}}}");
        Assert.Equal(422, code);
        Assert.Equal("ConfigMap \"ann\" is invalid: metadata.annotations: Too long: must have at most 262144 bytes", status["message"]!.GetValue<string>());

        var huge = new string('a', 3 * 1024 * 1024 + 10);
        (code, status, _) = await Send(h, HttpMethod.Post, "api/v1/namespaces/default/configmaps",
            $$$"""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"huge"},"data":{"x":"{{{huge}}}"}}""");
        Assert.Equal(413, code);
        Assert.Equal("RequestEntityTooLarge", status["reason"]!.GetValue<string>());
        Assert.Equal("Request entity too large: limit is 3145728", status["message"]!.GetValue<string>());

        // under the request limit, over etcd's: a dry run passes (nothing reaches etcd), a write fails
        var large = $$$"""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"large"},"data":{"x":"{{{new string('a', 2 * 1024 * 1024)}}}"}}""";
        (code, _, _) = await Send(h, HttpMethod.Post, "api/v1/namespaces/default/configmaps?dryRun=All", large);
        Assert.Equal(201, code);
        (code, status, _) = await Send(h, HttpMethod.Post, "api/v1/namespaces/default/configmaps", large);
        Assert.Equal(500, code);
        Assert.Equal("etcdserver: request is too large", status["message"]!.GetValue<string>());
        Assert.Null(sim.GetObject("v1", "ConfigMap", "default", "large"));
    }

    [SchemaFact]
    public async Task OpenApiV3CarriesTheSchemasOfBuiltInAndCustomKinds()
    {
        using var sim = Start();
        using var h = Http(sim);
        await InstallCrds(sim, h, "kserve", "serving.kserve.io/v1alpha1", "LLMInferenceService");
        var root = JsonNode.Parse(await h.GetStringAsync("openapi/v3"))!;
        var apps = JsonNode.Parse(await h.GetStringAsync(root["paths"]!["apis/apps/v1"]!["serverRelativeURL"]!.GetValue<string>().TrimStart('/')))!;
        var schemas = apps["components"]!["schemas"]!;
        Assert.Equal("#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec", schemas["io.k8s.api.apps.v1.Deployment"]!["properties"]!["spec"]!["$ref"]!.GetValue<string>());
        Assert.Equal("int32", schemas["io.k8s.api.apps.v1.DeploymentSpec"]!["properties"]!["replicas"]!["format"]!.GetValue<string>());
        Assert.NotNull(schemas["io.k8s.api.core.v1.PodSpec"]); // everything referenced is there

        var kserve = JsonNode.Parse(await h.GetStringAsync(root["paths"]!["apis/serving.kserve.io/v1alpha1"]!["serverRelativeURL"]!.GetValue<string>().TrimStart('/')))!;
        var llm = kserve["components"]!["schemas"]!["io.kserve.serving.v1alpha1.LLMInferenceService"]!;
        Assert.NotNull(llm["properties"]!["spec"]!["properties"]!["router"]!["properties"]!["scheduler"]);
        Assert.NotNull(kserve["components"]!["schemas"]!["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]);

        using var v2 = new HttpRequestMessage(HttpMethod.Get, "openapi/v2");
        v2.Headers.Accept.ParseAdd("application/json");
        var swagger = JsonNode.Parse(await (await h.SendAsync(v2)).Content.ReadAsStringAsync())!;
        Assert.NotNull(swagger["definitions"]!["io.k8s.api.apps.v1.Deployment"]);
        Assert.NotNull(swagger["definitions"]!["io.kserve.serving.v1alpha1.LLMInferenceService"]);
    }

    // ------------------------------------------------------------------ seed 004 and the module's own objects

    private static string? SeedManifest()
    {
        var dir = "/work/shared/seeds";
        var seed = Directory.Exists(dir) ? Directory.GetFiles(dir, "004_*.txt").FirstOrDefault() : null;
        if (seed is null) return null;
        var text = File.ReadAllText(seed);
        var start = text.IndexOf("apiVersion: serving.kserve.io/v1alpha1\nkind: LLMInferenceService", StringComparison.Ordinal);
        if (start < 0) return null;
        var end = text.IndexOf("```", start, StringComparison.Ordinal);
        return text[start..end];
    }

    [SchemaFact]
    public async Task Seed004PassesStrictAsWrittenAndItsTyposAreRejectedOrPruned()
    {
        var manifest = SeedManifest();
        if (manifest is null) return; // the seed is not beside this checkout
        using var sim = Start();
        using var h = Http(sim);
        await InstallCrds(sim, h, "kserve", "serving.kserve.io/v1alpha1", "LLMInferenceService");
        await Namespace(h, "llm-d-inference-scheduling");
        const string path = "apis/serving.kserve.io/v1alpha1/namespaces/llm-d-inference-scheduling/llminferenceservices";

        // every field of the seed's LLMInferenceService is declared upstream (model.name, router.{route,gateway,scheduler},
        // template.nodeSelector/imagePullSecrets at pod level): a real server takes it under Strict, without warnings
        var (code, body, warnings) = await Send(h, HttpMethod.Post, path + "?fieldValidation=Strict&dryRun=All", KubeYaml.ReadOne(manifest)!.ToJsonString());
        Assert.True(code == 201, body.ToJsonString());
        Assert.Empty(warnings);

        // the seed's scheduler with an image (what the issue tried) and nodeSelector misplaced under the container
        var typo = manifest.Replace("    scheduler: {}  # Enable EPP scheduler for intelligent routing", "    scheduler:\n      image: ghcr.io/llm-d/llm-d-inference-scheduler:v0.2.1")
            .Replace("      # Resource allocation\n", "      nodeSelector: {cloud.google.com/gke-tpu-topology: 2x2}\n      # Resource allocation\n");
        var json = KubeYaml.ReadOne(typo)!.ToJsonString();
        var (strict, status, _) = await Send(h, HttpMethod.Post, path + "?fieldValidation=Strict", json);
        Assert.Equal(400, strict);
        Assert.Equal("LLMInferenceService in version \"v1alpha1\" cannot be handled as a LLMInferenceService: strict decoding error: " +
            "unknown field \"spec.router.scheduler.image\", unknown field \"spec.template.containers[0].nodeSelector\"", status["message"]!.GetValue<string>());
        (code, body, warnings) = await Send(h, HttpMethod.Post, path, json);
        Assert.True(code == 201, body.ToJsonString());
        Assert.Equal(["299 - \"unknown field \\\"spec.router.scheduler.image\\\"\"", "299 - \"unknown field \\\"spec.template.containers[0].nodeSelector\\\"\""], warnings);
        var stored = sim.GetObject("serving.kserve.io/v1alpha1", "LLMInferenceService", "llm-d-inference-scheduling", "qwen2-3b-pattern1")!;
        Assert.Equal("{}", stored["spec"]!["router"]!["scheduler"]!.ToJsonString());
        Assert.Equal("2x2", stored["spec"]!["template"]!["nodeSelector"]!["cloud.google.com/gke-tpu-topology"]!.GetValue<string>());
    }

    [SchemaFact]
    public void EverythingTheModuleSendsPassesStrictValidation()
    {
        var o = KubeApiSimulatorOptions.Fast(TimeSpan.FromMilliseconds(5));
        o.CrdSchemaPath = UpstreamSchemas.Root;
        o.ForceStrictFieldValidation = true; // any unknown field fails the module's request
        o.GkeGatewayApi = true;
        o.Nodes.AddRange(SimulatedNode.TpuPool("tpu-pool", 3, "tpu-v6e-slice", "2x2", "ct6e-standard-4t", 4));
        using var sim = new KubeApiSimulator(o);
        sim.Start();
        var kubeconfig = Path.Combine(Directory.CreateTempSubdirectory("rhaii-strict-").FullName, "config");
        File.WriteAllText(kubeconfig, sim.Kubeconfig());
        using var ps = new PowerShellHost();
        ps.Run($$"""
            Connect-RhaiiCluster -Kubeconfig '{{kubeconfig}}' | Out-Null
            $cred = [pscredential]::new('svc', (ConvertTo-SecureString 'registry-password' -AsPlainText -Force))
            Install-RhaiiOperators | Out-Null
            New-InferenceGateway | Out-Null
            New-InferenceGateway -Name gke-gateway -GatewayClass GkeRegionalExternal | Out-Null
            Deploy-LlmInferenceService -Name base -Model Qwen/Qwen2.5-1.5B-Instruct -Namespace base -RegistryCredential $cred -Pattern Baseline -Wait -Timeout 00:02:00 -WarningAction SilentlyContinue | Out-Null
            Deploy-LlmInferenceService -Name cache -Model Qwen/Qwen2.5-1.5B-Instruct -Namespace cache -RegistryCredential $cred -Pattern CacheAware -Replicas 1 -Wait -Timeout 00:02:00 -WarningAction SilentlyContinue | Out-Null
            Deploy-LlmInferenceService -Name gke -Model Qwen/Qwen2.5-1.5B-Instruct -Namespace gke -RegistryCredential $cred -Pattern GkeNativeGateway -GatewayName gke-gateway -Wait -Timeout 00:02:00 -WarningAction SilentlyContinue | Out-Null
            """);
        Assert.Empty(sim.ValidationFindings);
        // and the requests were writes the server validated (not skipped)
        Assert.Contains(sim.Requests, r => r.Mutating && r.Path.Contains("llminferenceservices", StringComparison.Ordinal));
        Assert.Contains(sim.Requests, r => r.Mutating && r.Path.Contains("/deployments", StringComparison.Ordinal) || r.Path.Contains("networkpolicies", StringComparison.Ordinal));
    }

    /// <summary>Starts a strict sandbox with the upstream schemas and <paramref name="nodes"/>, connects a PowerShell session to it and installs the platform.</summary>
    private static (KubeApiSimulator Sim, PowerShellHost Ps) StrictPlatform(params IEnumerable<SimulatedNode>[] nodes)
    {
        var o = KubeApiSimulatorOptions.Fast(TimeSpan.FromMilliseconds(5));
        o.CrdSchemaPath = UpstreamSchemas.Root;
        o.ForceStrictFieldValidation = true; // any unknown field fails the module's request
        foreach (var n in nodes) o.Nodes.AddRange(n);
        var sim = new KubeApiSimulator(o);
        sim.Start();
        var kubeconfig = Path.Combine(Directory.CreateTempSubdirectory("rhaii-strict13-").FullName, "config");
        File.WriteAllText(kubeconfig, sim.Kubeconfig());
        var ps = new PowerShellHost();
        ps.Run($$"""
            Connect-RhaiiCluster -Kubeconfig '{{kubeconfig}}' | Out-Null
            $cred = [pscredential]::new('svc', (ConvertTo-SecureString 'registry-password' -AsPlainText -Force))
            Install-RhaiiOperators | Out-Null
            New-InferenceGateway | Out-Null
            """);
        return (sim, ps);
    }

    /// <summary>
    /// Issue 13's multi-host and GPU patterns as the module deploys them, every write strict: a v6e 2x4 slice on
    /// ct6e-standard-4t (the LeaderWorkerSet worker and the namespace-local pipeline preset) and a GPU service on an L4 node.
    /// </summary>
    [SchemaFact]
    public void MultiHostAndGpuDeploymentsPassStrictValidation()
    {
        var (sim, ps) = StrictPlatform(
            SimulatedNode.TpuPool("tpu-multihost", 2, "tpu-v6e-slice", "2x4", "ct6e-standard-4t", 4),
            SimulatedGpuNodes.Pool("gpu-pool", 1, "nvidia-l4", "g2-standard-8", 1));
        using (sim)
        using (ps)
        {
            ps.Run("""
                New-LlmInferenceServiceSpec -Name big -Model Qwen/Qwen2.5-72B-Instruct -Namespace mh -Topology 2x4 -MachineType ct6e-standard-4t |
                    Deploy-LlmInferenceService -RegistryCredential $cred -Wait -Timeout 00:02:00 -WarningAction SilentlyContinue | Out-Null
                Deploy-LlmInferenceService -Name gpu -Model Qwen/Qwen2.5-1.5B-Instruct -Namespace gpu -Accelerator nvidia-l4 -RegistryCredential $cred -Wait -Timeout 00:02:00 -WarningAction SilentlyContinue | Out-Null
                """);
            Assert.Empty(sim.ValidationFindings);
            Assert.Contains(sim.Requests, r => r.Mutating && r.Path.Contains("llminferenceserviceconfigs", StringComparison.Ordinal));
            Assert.NotNull(sim.GetObject("leaderworkerset.x-k8s.io/v1", "LeaderWorkerSet", "mh", "big-kserve-mn"));
            Assert.NotNull(sim.GetObject("apps/v1", "Deployment", "gpu", "gpu-kserve"));
        }
    }

    /// <summary>Issue 13's multi-model pattern as the module deploys it, every write strict: two services and one model-routed URL (the body-based router and its HTTPRoute).</summary>
    [SchemaFact]
    public void MultiModelDeploymentPassesStrictValidation()
    {
        var (sim, ps) = StrictPlatform(SimulatedNode.TpuPool("tpu-pool", 2, "tpu-v6e-slice", "2x2", "ct6e-standard-4t", 4));
        using (sim)
        using (ps)
        {
            ps.Run("""
                $svcs = @(
                    Deploy-LlmInferenceService -Name small -Model Qwen/Qwen2.5-1.5B-Instruct -Namespace mm -RegistryCredential $cred -Wait -Timeout 00:02:00 -WarningAction SilentlyContinue
                    Deploy-LlmInferenceService -Name large -Model Qwen/Qwen2.5-3B-Instruct -Namespace mm -RegistryCredential $cred -Wait -Timeout 00:02:00 -WarningAction SilentlyContinue)
                $svcs | New-InferenceModelRoute -Name models | Out-Null
                """);
            Assert.Empty(sim.ValidationFindings);
            Assert.Contains(sim.Requests, r => r.Mutating && r.Path.Contains("httproutes", StringComparison.Ordinal));
        }
    }

    // ------------------------------------------------------------------ kubectl

    [KubectlSchemaFact]
    public async Task KubectlSeesStrictRejectionsWarningsAndExplainsSchemas()
    {
        using var sim = Start();
        using var h = Http(sim);
        await InstallCrds(sim, h, "kserve", "serving.kserve.io/v1alpha1", "LLMInferenceService");
        await Namespace(h, "llm");
        var dir = Directory.CreateTempSubdirectory("rhaii-kubectl-");
        try
        {
            var kc = Path.Combine(dir.FullName, "config");
            var cache = Path.Combine(dir.FullName, "cache");
            (int Code, string Out, string Err) RunKubectl(string args, string? stdin = null) => Kubectl.Run(kc, cache, args, stdin);
            File.WriteAllText(kc, sim.Kubeconfig());
            var manifest = Llm("x", ""","bogusField":true""");

            var strict = RunKubectl("apply --dry-run=server --validate=strict -f -", manifest);
            Assert.NotEqual(0, strict.Code);
            Assert.Contains("strict decoding error: unknown field \"spec.bogusField\"", strict.Err);

            var warn = RunKubectl("apply --dry-run=server --validate=warn -f -", manifest);
            Assert.True(warn.Code == 0, warn.Err);
            Assert.Contains("Warning: unknown field \"spec.bogusField\"", warn.Err);

            var ssa = RunKubectl("apply --server-side --dry-run=server -f -", manifest);
            Assert.NotEqual(0, ssa.Code);
            Assert.Contains(".spec.bogusField: field not declared in schema", ssa.Err);

            var explain = RunKubectl("explain deployment.spec.replicas");
            Assert.True(explain.Code == 0, explain.Err);
            Assert.Contains("replicas", explain.Out);
            Assert.Contains("<integer>", explain.Out);

            var crd = RunKubectl("explain llminferenceservice.spec.router");
            Assert.True(crd.Code == 0, crd.Err);
            Assert.Contains("scheduler", crd.Out);
        }
        finally { dir.Delete(true); }
    }
}

/// <summary>Needs both the real kubectl and the upstream schema folder; skipped with the reason otherwise.</summary>
public sealed class KubectlSchemaFactAttribute : FactAttribute
{
    public KubectlSchemaFactAttribute()
    {
        if (Kubectl.Path is null) Skip = "kubectl is not on PATH; install kubectl to run the kubectl-against-simulator test";
        else if (UpstreamSchemas.Root is null) Skip = UpstreamSchemas.MissingReason;
    }
}
