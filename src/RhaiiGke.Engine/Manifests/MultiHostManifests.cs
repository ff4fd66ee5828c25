using System.Text.Json.Nodes;

namespace RhaiiGke.Engine.Manifests;

/// <summary>
/// Multi-host TPU serving: one replica spans every host of a multi-host slice (v6e 2x4/4x4/4x8 on
/// ct6e-standard-4t, v5e 4t slices, v5p 3-D slices). KServe release-v0.15 turns an LLMInferenceService with
/// <c>spec.worker</c> into a LeaderWorkerSet <c>&lt;name&gt;-kserve-mn</c> (workload_multi_node.go) whose group size is
/// <c>spec.parallelism.pipeline</c> (ParallelismSpec.GetSize); its webhook requires pipeline or data parallelism
/// with a worker. So a replica is one LWS group of <see cref="LlmInferenceServiceSpec.Hosts"/> pods (leader plus
/// workers), each requesting every chip of its host; vLLM shards tensor-parallel within a host and
/// pipeline-parallel across hosts (TP × PP = the slice's chips) over a Ray cluster the leader starts and the
/// workers join at <c>$LWS_LEADER_ADDRESS</c>. The LWS pod webhook adds TPU_WORKER_HOSTNAMES, TPU_WORKER_ID and
/// TPU_NAME to TPU containers and LWS_LEADER_ADDRESS, LWS_GROUP_SIZE and LWS_WORKER_INDEX to every container.
/// KServe ships no preset for worker + pipeline parallelism (kserve-config-llm-worker-pipeline-parallel is in
/// its "unimplemented" list and is looked up in the service's namespace first), so RhaiiGke ships that
/// LLMInferenceServiceConfig in the service's namespace with the Ray start-up of leader and workers.
/// </summary>
public static class MultiHostManifests
{
    /// <summary>The preset name KServe looks up for spec.worker with pipeline parallelism (config_merge.go).</summary>
    public const string PipelineConfigName = "kserve-config-llm-worker-pipeline-parallel";
    /// <summary>LWS annotation (propagated by KServe from the LLMInferenceService) that keeps a group on one topology domain.</summary>
    public const string ExclusiveTopologyAnnotation = "leaderworkerset.sigs.k8s.io/exclusive-topology";
    /// <summary>One GKE multi-host TPU node pool is one slice: a group must not straddle pools.</summary>
    public const string SliceTopologyKey = "cloud.google.com/gke-nodepool";
    public const string LeaderComponent = "llminferenceservice-workload-leader";
    public const string WorkerComponent = "llminferenceservice-workload-worker";
    public const int RayPort = 6379;

    /// <summary>The vLLM flags a multi-host replica adds: pipeline stages across hosts, over Ray.</summary>
    public static IReadOnlyList<string> VllmArguments(LlmInferenceServiceSpec s) =>
        s.Hosts > 1 ? [$"--pipeline-parallel-size={s.Hosts}", "--distributed-executor-backend=ray"] : [];

    /// <summary>Turns the single-host LLMInferenceService rendered by <see cref="ManifestBuilder"/> into a multi-host one.</summary>
    public static void Apply(LlmInferenceServiceSpec s, JsonObject llmisvc)
    {
        if (s.Hosts <= 1) return;
        var spec = (JsonObject)llmisvc["spec"]!;
        spec["parallelism"] = new JsonObject { ["tensor"] = s.TensorParallelSize, ["pipeline"] = s.Hosts };
        var meta = (JsonObject)llmisvc["metadata"]!;
        var annotations = meta["annotations"] as JsonObject ?? new JsonObject();
        annotations[ExclusiveTopologyAnnotation] = SliceTopologyKey;
        meta["annotations"] = annotations;

        var leader = (JsonObject)spec["template"]!;
        var worker = new JsonObject
        {
            ["serviceAccountName"] = s.ServiceAccountName,
            ["nodeSelector"] = leader["nodeSelector"]!.DeepClone(),
            ["tolerations"] = leader["tolerations"]!.DeepClone(),
        };
        var leaderMain = (JsonObject)((JsonArray)leader["containers"]!)[0]!;
        var workerMain = new JsonObject
        {
            ["name"] = "main",
            ["image"] = s.Image,
            ["env"] = new JsonArray(new JsonObject { ["name"] = "PJRT_DEVICE", ["value"] = "TPU" }),
            ["resources"] = leaderMain["resources"]!.DeepClone(),
        };
        worker["containers"] = new JsonArray(workerMain);
        spec["worker"] = worker;
    }

    /// <summary>
    /// The namespace-local preset for worker + pipeline parallelism: the leader starts the Ray head, waits until
    /// the whole group joined, then serves; workers join the leader's Ray cluster and block.
    /// </summary>
    public static JsonObject PipelineConfig(LlmInferenceServiceSpec s)
    {
        var o = ManifestBuilder.Obj("serving.kserve.io/v1alpha1", "LLMInferenceServiceConfig", PipelineConfigName, s.Namespace);
        o["metadata"]!["labels"] = new JsonObject { [ManifestBuilder.ManagedByLabel] = "rhaiigke" };
        JsonArray Volumes(bool tls)
        {
            var v = new JsonArray(
                new JsonObject { ["name"] = "home", ["emptyDir"] = new JsonObject() },
                new JsonObject { ["name"] = "dshm", ["emptyDir"] = new JsonObject { ["medium"] = "Memory", ["sizeLimit"] = "8Gi" } });
            if (tls) v.Add(new JsonObject { ["name"] = "tls-certs", ["secret"] = new JsonObject { ["secretName"] = "{{ ChildName .ObjectMeta.Name `-kserve-self-signed-certs` }}" } });
            return v;
        }
        JsonArray Mounts(bool tls)
        {
            var m = new JsonArray(
                new JsonObject { ["name"] = "home", ["mountPath"] = "/home" },
                new JsonObject { ["name"] = "dshm", ["mountPath"] = "/dev/shm" });
            if (tls) m.Add(new JsonObject { ["name"] = "tls-certs", ["mountPath"] = "/var/run/kserve/tls", ["readOnly"] = true });
            return m;
        }
        JsonArray Env() => new(new JsonObject { ["name"] = "HOME", ["value"] = "/home" }, new JsonObject { ["name"] = "VLLM_LOGGING_LEVEL", ["value"] = "INFO" });

        var leaderScript =
            "set -e\n" +
            $"ray start --head --port={RayPort} --disable-usage-stats\n" +
            "# vLLM places one pipeline stage per host: wait until every pod of the LeaderWorkerSet group joined\n" +
            "for i in $(seq 1 900); do\n" +
            "  n=$(python3 -c 'import ray; ray.init(address=\"auto\", logging_level=\"ERROR\"); print(sum(1 for x in ray.nodes() if x[\"Alive\"]))' 2>/dev/null || echo 0)\n" +
            "  [ \"$n\" -ge \"${LWS_GROUP_SIZE}\" ] && break\n" +
            "  echo \"waiting for the LeaderWorkerSet group: $n of ${LWS_GROUP_SIZE} hosts joined\"; sleep 2\n" +
            "done\n" +
            "exec vllm serve /mnt/models --served-model-name \"{{ .Spec.Model.Name }}\" --port 8000 ${VLLM_ADDITIONAL_ARGS} " +
            "--enable-ssl-refresh --ssl-certfile /var/run/kserve/tls/tls.crt --ssl-keyfile /var/run/kserve/tls/tls.key";
        var workerScript =
            "set -e\n" +
            $"exec ray start --address=${{LWS_LEADER_ADDRESS}}:{RayPort} --block --disable-usage-stats";
        o["spec"] = new JsonObject
        {
            ["template"] = new JsonObject
            {
                ["containers"] = new JsonArray(new JsonObject
                {
                    ["name"] = "main",
                    ["command"] = new JsonArray("/bin/bash", "-c"),
                    ["args"] = new JsonArray(leaderScript),
                    ["ports"] = new JsonArray(
                        new JsonObject { ["containerPort"] = 8000, ["protocol"] = "TCP" },
                        new JsonObject { ["containerPort"] = RayPort, ["protocol"] = "TCP" }),
                    ["env"] = Env(),
                    ["volumeMounts"] = Mounts(tls: true),
                    ["readinessProbe"] = new JsonObject
                    {
                        ["httpGet"] = new JsonObject { ["path"] = "/health", ["port"] = 8000, ["scheme"] = "HTTPS" },
                        ["periodSeconds"] = 10, ["timeoutSeconds"] = 5, ["failureThreshold"] = 3,
                    },
                }),
                ["volumes"] = Volumes(tls: true),
                ["terminationGracePeriodSeconds"] = 30,
            },
            ["worker"] = new JsonObject
            {
                ["containers"] = new JsonArray(new JsonObject
                {
                    ["name"] = "main",
                    ["command"] = new JsonArray("/bin/bash", "-c"),
                    ["args"] = new JsonArray(workerScript),
                    ["env"] = Env(),
                    ["volumeMounts"] = Mounts(tls: false),
                }),
                ["volumes"] = Volumes(tls: false),
                ["terminationGracePeriodSeconds"] = 30,
            },
        };
        return o;
    }

    /// <summary>
    /// NetworkPolicies a multi-host replica needs on top of the service's: the gateway and the EPP reach the leader
    /// (KServe labels it <c>…-workload-leader</c>, not <c>…-workload</c>), and the pods of a group reach each other
    /// (Ray, the TPU runtime's ports).
    /// </summary>
    public static IReadOnlyList<JsonObject> NetworkPolicies(LlmInferenceServiceSpec s)
    {
        if (s.Hosts <= 1) return [];
        var single = ManifestBuilder.NetworkPolicies(s).First(p => p["metadata"]!["name"]!.GetValue<string>() == $"{s.Name}-allow-gateway-to-vllm");
        var toLeader = ManifestBuilder.Obj("networking.k8s.io/v1", "NetworkPolicy", $"{s.Name}-allow-gateway-to-leader", s.Namespace);
        var leaderSpec = single["spec"]!.DeepClone().AsObject();
        leaderSpec["podSelector"] = new JsonObject
        {
            ["matchLabels"] = new JsonObject { ["app.kubernetes.io/component"] = LeaderComponent, ["app.kubernetes.io/name"] = s.Name },
        };
        toLeader["spec"] = leaderSpec;

        JsonObject GroupSelector() => new()
        {
            ["matchLabels"] = new JsonObject { ["app.kubernetes.io/name"] = s.Name, [ManifestBuilder.PartOfLabel] = "llminferenceservice" },
            ["matchExpressions"] = new JsonArray(new JsonObject
            {
                ["key"] = "app.kubernetes.io/component", ["operator"] = "In", ["values"] = new JsonArray(LeaderComponent, WorkerComponent),
            }),
        };
        var group = ManifestBuilder.Obj("networking.k8s.io/v1", "NetworkPolicy", $"{s.Name}-allow-multihost-group", s.Namespace);
        group["spec"] = new JsonObject
        {
            ["podSelector"] = GroupSelector(),
            ["policyTypes"] = new JsonArray("Ingress"),
            ["ingress"] = new JsonArray(new JsonObject { ["from"] = new JsonArray(new JsonObject { ["podSelector"] = GroupSelector() }) }),
        };
        return [toLeader, group];
    }
}
