using System.Diagnostics;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using RhaiiGke.Sandbox.KubeApi;
using Xunit;

namespace RhaiiGke.Tests.KubeApi;

/// <summary>Runs a test only where Debian's python3-kubernetes imports with /usr/bin/python3 (.ci/run installs it as root).</summary>
public sealed class PythonClientFactAttribute : FactAttribute
{
    public PythonClientFactAttribute()
    {
        if (PythonClientEnv.Unavailable is { } why) Skip = why;
    }
}

internal static class PythonClientEnv
{
    public const string Python = "/usr/bin/python3";

    public static readonly string? Unavailable = Probe();

    private static string? Probe()
    {
        if (!File.Exists(Python)) return $"{Python} is not installed; install python3-kubernetes (Debian) to run the Python client interop tests";
        try
        {
            var psi = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            psi.ArgumentList.Add("-c");
            psi.ArgumentList.Add("import kubernetes, kubernetes.watch; print(kubernetes.__version__)");
            using var p = Process.Start(psi)!;
            var err = p.StandardError.ReadToEndAsync();
            p.StandardOutput.ReadToEnd();
            if (!p.WaitForExit(60_000)) { p.Kill(true); return "importing the Python kubernetes client timed out"; }
            return p.ExitCode == 0 ? null : "the Python kubernetes client does not import with /usr/bin/python3 (apt-get install python3-kubernetes): " + err.Result.Trim().Split('\n').LastOrDefault();
        }
        catch (Exception ex) { return "could not run /usr/bin/python3: " + ex.Message; }
    }
}

/// <summary>
/// The Python Kubernetes client from Debian against the sandbox API server, through the kubeconfig the sandbox
/// writes (so the same test runs over plain HTTP or HTTPS with a token): list_node, watches spelled watch=True
/// whose response headers must arrive before any event, a CustomObjectsApi watch of llminferenceservices,
/// a node's Lease and read_namespaced_pod_log (whole and tail_lines).
/// </summary>
public sealed class PythonClientTests
{
    private const string Script = """
        import json, sys
        from kubernetes import client, config, watch
        from kubernetes.watch.watch import iter_resp_lines

        def say(*parts):
            print(*parts, flush=True)

        config.load_kube_config(config_file=sys.argv[1])
        ns = sys.argv[2]
        v1 = client.CoreV1Api()

        nodes = v1.list_node()
        say("NODES", json.dumps([{"name": n.metadata.name, "bootID": n.status.node_info.boot_id, "machineID": n.status.node_info.machine_id,
            "kubelet": n.status.node_info.kubelet_version, "runtime": n.status.node_info.container_runtime_version,
            "addresses": {a.type: a.address for a in n.status.addresses}} for n in nodes.items]))

        lease = client.CoordinationV1Api().read_namespaced_lease(nodes.items[0].metadata.name, "kube-node-lease")
        say("LEASE", lease.spec.holder_identity, lease.spec.lease_duration_seconds, lease.spec.renew_time is not None)
        say("LOG", json.dumps(v1.read_namespaced_pod_log("py-log", ns, container="main")))
        say("TAIL", json.dumps(v1.read_namespaced_pod_log("py-log", ns, container="main", tail_lines=1)))

        rv = v1.list_namespaced_config_map(ns).metadata.resource_version
        # no event is pending at this resourceVersion: the call returns only once the server has sent its headers
        raw = v1.list_namespaced_config_map(ns, watch=True, resource_version=rv, timeout_seconds=300, _preload_content=False)
        say("HEADERS", raw.status, raw.headers.get("Content-Type"), raw.headers.get("Transfer-Encoding"))
        for line in iter_resp_lines(raw):
            ev = json.loads(line)
            say("RAW", ev["type"], ev["object"]["metadata"]["name"])
            break
        raw.release_conn()

        w = watch.Watch()
        for ev in w.stream(v1.list_namespaced_config_map, ns, resource_version=rv, timeout_seconds=120):
            say("CM", ev["type"], ev["object"].metadata.name)
            if ev["object"].metadata.name == "py-watch-1":
                w.stop()

        co = client.CustomObjectsApi()
        grv = co.list_namespaced_custom_object("serving.kserve.io", "v1alpha1", ns, "llminferenceservices")["metadata"]["resourceVersion"]
        say("LLMISVC-READY")
        w = watch.Watch()
        for ev in w.stream(co.list_namespaced_custom_object, "serving.kserve.io", "v1alpha1", ns, "llminferenceservices", resource_version=grv, timeout_seconds=120):
            say("LLMISVC", ev["type"], ev["object"]["metadata"]["name"])
            if ev["type"] == "ADDED":
                w.stop()
        say("DONE")
        """;

    [PythonClientFact]
    public async Task ThePythonClientListsNodesAndWatchesConfigMapsAndLlmInferenceServices()
    {
        var options = KubeApiSimulatorOptions.Fast(TimeSpan.FromMilliseconds(10));
        options.Nodes.AddRange(SimulatedNode.CpuPool("py-pool", 2));
        using var sim = new KubeApiSimulator(options);
        sim.Start();
        var dir = Directory.CreateTempSubdirectory("rhaii-py-").FullName;
        try
        {
            var kubeconfig = Path.Combine(dir, "kubeconfig");
            File.WriteAllText(kubeconfig, sim.Kubeconfig());
            File.WriteAllText(Path.Combine(dir, "client.py"), Script);
            using var k = new Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(kubeconfig));
            await k.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "py" } });
            await k.CreateCustomResourceDefinitionAsync(LlmIsvcCrd());
            using (var established = new CancellationTokenSource(TimeSpan.FromMinutes(1)))
                while ((await k.ReadCustomResourceDefinitionAsync("llminferenceservices.serving.kserve.io", cancellationToken: established.Token)).Status?.Conditions?.Any(c => c.Type == "Established" && c.Status == "True") != true)
                    await Task.Delay(20, established.Token);

            // a running pod whose container wrote two lines, for read_namespaced_pod_log
            await k.CreateNamespacedPodAsync(new V1Pod
            {
                Metadata = new V1ObjectMeta { Name = "py-log" },
                Spec = new V1PodSpec { Containers = [new V1Container { Name = "main", Image = "registry.example/app:1.0" }] },
            }, "py");
            V1Pod logPod;
            using (var running = new CancellationTokenSource(TimeSpan.FromMinutes(1)))
                while ((logPod = await k.ReadNamespacedPodAsync("py-log", "py", cancellationToken: running.Token)).Status?.Phase != "Running")
                    await Task.Delay(20, running.Token);
            var before = await k.ReadNamespacedPodLogAsync("py-log", "py", container: "main");
            string existing;
            using (var sr = new StreamReader(before)) existing = await sr.ReadToEndAsync();
            sim.WritePodLog(logPod.Metadata.Uid, "main", "py-line-1");
            sim.WritePodLog(logPod.Metadata.Uid, "main", "py-line-2");

            var psi = new ProcessStartInfo(PythonClientEnv.Python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            psi.ArgumentList.Add(Path.Combine(dir, "client.py"));
            psi.ArgumentList.Add(kubeconfig);
            psi.ArgumentList.Add("py");
            using var p = Process.Start(psi)!;
            var stderr = p.StandardError.ReadToEndAsync();
            using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(3));
            async Task<string> Line(string prefix)
            {
                while (true)
                {
                    string? line;
                    try { line = await p.StandardOutput.ReadLineAsync(limit.Token); }
                    catch (OperationCanceledException) { p.Kill(true); throw new TimeoutException($"the Python client never printed {prefix}; stderr: {await stderr}"); }
                    if (line is null) throw new InvalidOperationException($"the Python client exited before {prefix}: {await stderr}");
                    if (line.StartsWith(prefix + " ", StringComparison.Ordinal) || line == prefix) return line;
                }
            }
            try
            {
                var nodes = JsonNode.Parse((await Line("NODES"))["NODES ".Length..])!.AsArray();
                Assert.Equal(options.Nodes.Select(n => n.Name).Order(), nodes.Select(n => n!["name"]!.GetValue<string>()).Order());
                Assert.All(nodes, n =>
                {
                    Assert.False(string.IsNullOrEmpty(n!["bootID"]!.GetValue<string>()));
                    Assert.False(string.IsNullOrEmpty(n["machineID"]!.GetValue<string>()));
                    Assert.Equal(options.KubernetesVersion, n["kubelet"]!.GetValue<string>());
                    Assert.StartsWith("containerd://", n["runtime"]!.GetValue<string>());
                    Assert.Equal(n["name"]!.GetValue<string>(), n["addresses"]!["Hostname"]!.GetValue<string>());
                    Assert.StartsWith("10.", n["addresses"]!["InternalIP"]!.GetValue<string>());
                });

                var lease = (await Line("LEASE")).Split(' ');
                Assert.Equal([nodes[0]!["name"]!.GetValue<string>(), "40", "True"], lease[1..]);
                Assert.Equal(existing + "py-line-1\npy-line-2\n", JsonNode.Parse((await Line("LOG"))["LOG ".Length..])!.GetValue<string>());
                Assert.Equal("py-line-2\n", JsonNode.Parse((await Line("TAIL"))["TAIL ".Length..])!.GetValue<string>());

                // watch=True: a watch (not a List), its headers flushed while no event is pending
                var headers = (await Line("HEADERS")).Split(' ');
                Assert.Equal("200", headers[1]);
                Assert.StartsWith("application/json", headers[2]);
                Assert.Equal("chunked", headers[3]);
                await k.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "py-watch-1" }, Data = new Dictionary<string, string> { ["a"] = "1" } }, "py");
                Assert.Equal("RAW ADDED py-watch-1", await Line("RAW"));
                Assert.Equal("CM ADDED py-watch-1", await Line("CM"));

                await Line("LLMISVC-READY");
                await k.CreateNamespacedCustomObjectAsync(new JsonObject
                {
                    ["apiVersion"] = "serving.kserve.io/v1alpha1", ["kind"] = "LLMInferenceService",
                    ["metadata"] = new JsonObject { ["name"] = "py-svc" },
                    ["spec"] = new JsonObject { ["model"] = new JsonObject { ["uri"] = "hf://Qwen/Qwen2.5-3B-Instruct" } },
                }, "serving.kserve.io", "v1alpha1", "py", "llminferenceservices");
                Assert.Equal("LLMISVC ADDED py-svc", await Line("LLMISVC"));
                await Line("DONE");
                Assert.True(p.WaitForExit(60_000));
                Assert.True(p.ExitCode == 0, await stderr);
            }
            finally { if (!p.HasExited) p.Kill(true); }
        }
        finally { Directory.Delete(dir, true); }
    }

    private static V1CustomResourceDefinition LlmIsvcCrd() => new()
    {
        ApiVersion = "apiextensions.k8s.io/v1", Kind = "CustomResourceDefinition",
        Metadata = new V1ObjectMeta { Name = "llminferenceservices.serving.kserve.io" },
        Spec = new V1CustomResourceDefinitionSpec
        {
            Group = "serving.kserve.io", Scope = "Namespaced",
            Names = new V1CustomResourceDefinitionNames { Plural = "llminferenceservices", Singular = "llminferenceservice", Kind = "LLMInferenceService", ListKind = "LLMInferenceServiceList", ShortNames = ["llmisvc"] },
            Versions =
            [
                new V1CustomResourceDefinitionVersion
                {
                    Name = "v1alpha1", Served = true, Storage = true,
                    Schema = new V1CustomResourceValidation
                    {
                        OpenAPIV3Schema = new V1JSONSchemaProps
                        {
                            Type = "object",
                            Properties = new Dictionary<string, V1JSONSchemaProps>
                            {
                                ["spec"] = new() { Type = "object", XKubernetesPreserveUnknownFields = true },
                                ["status"] = new() { Type = "object", XKubernetesPreserveUnknownFields = true },
                            },
                        },
                    },
                },
            ],
        },
    };
}
