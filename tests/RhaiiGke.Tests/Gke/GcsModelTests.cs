using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using RhaiiGke.Engine.Gke;
using RhaiiGke.Engine.Manifests;
using RhaiiGke.Engine.Serving.Diagnosis;
using RhaiiGke.Sandbox.Gke;
using Xunit;

namespace RhaiiGke.Tests.Gke;

/// <summary>gs:// models with Workload Identity: the spec, the manifests, the IAM/Storage simulator and client, the storage initializer's reads and the diagnosis.</summary>
public class GcsModelTests
{
    private const string Gsa = "model-reader@rhaii-test.iam.gserviceaccount.com";

    private static LlmInferenceServiceSpec GcsSpec(string? gsa = Gsa, string model = "gs://rhaii-models/qwen2.5-3b") =>
        SpecFactory.Create(new SpecRequest { Name = "qwen", Model = model, GcpServiceAccount = gsa });

    [Fact]
    public void AGcsModelNeedsAValidGoogleServiceAccountAndBucket()
    {
        Assert.Equal("GcpServiceAccountRequired", Assert.Throws<RhaiiException>(() => GcsSpec(gsa: null)).ErrorId);
        Assert.Equal("InvalidGcpServiceAccount", Assert.Throws<RhaiiException>(() => GcsSpec(gsa: "reader@gmail.com")).ErrorId);
        Assert.Equal("InvalidModelUri", Assert.Throws<RhaiiException>(() => GcsSpec(model: "gs://Bad_Bucket!/x")).ErrorId);
        Assert.Equal("InvalidModelUri", Assert.Throws<RhaiiException>(() => GcsSpec(model: "gs://a/x")).ErrorId);
        var s = GcsSpec(model: "GS://rhaii-models/qwen2.5-3b/");
        Assert.Equal(("gs://rhaii-models/qwen2.5-3b", Gsa, "qwen"), (s.ModelUri, s.GcpServiceAccount, s.ModelName));
        // other schemes may carry the annotation too, and still need no account
        Assert.Null(SpecFactory.Create(new SpecRequest { Name = "qwen", Model = "hf://Qwen/Qwen2.5-3B-Instruct" }).GcpServiceAccount);
    }

    [Fact]
    public void TheManifestsCarryTheDownloadKServeKeepsAndTheWorkloadIdentityAnnotation()
    {
        var s = GcsSpec();
        var llmisvc = ManifestBuilder.LlmInferenceService(s);
        // KServe release-v0.15 rejects gs:// in spec.model.uri; the s3:// form makes it mount /mnt/models, and it keeps
        // the template's storage-initializer (added only "if not present"), which downloads the gs:// URI
        Assert.Equal("s3://rhaii-models/qwen2.5-3b", llmisvc["spec"]!["model"]!["uri"]!.ToString());
        Assert.Equal("gs://rhaii-models/qwen2.5-3b", llmisvc["metadata"]!["annotations"]![GcsModels.ModelUriAnnotation]!.ToString());
        var init = Assert.Single((JsonArray)llmisvc["spec"]!["template"]!["initContainers"]!)!;
        Assert.Equal("storage-initializer", init["name"]!.ToString());
        Assert.Equal(["gs://rhaii-models/qwen2.5-3b", "/mnt/models"], ((JsonArray)init["args"]!).Select(a => a!.ToString()));
        var main = ((JsonArray)llmisvc["spec"]!["template"]!["containers"]!)[0]!;
        Assert.Equal("/mnt/models", main["volumeMounts"]![0]!["mountPath"]!.ToString());

        var objects = ManifestBuilder.BuildService(s);
        var sa = objects.Single(o => o.Kind == "ServiceAccount");
        Assert.Contains($"iam.gke.io/gcp-service-account: {Gsa}", sa.Yaml);
        // an hf:// service renders as before: no init container of its own
        Assert.Null(ManifestBuilder.LlmInferenceService(SpecFactory.Create(new SpecRequest { Name = "qwen", Model = "hf://Qwen/Qwen2.5-3B-Instruct" }))["spec"]!["template"]!["initContainers"]);
    }

    private static JsonObject WorkloadIdentityCluster(string name, bool gkeMetadata = true) => JsonNode.Parse($$"""
        {
          "name": "{{name}}",
          "workloadIdentityConfig": { "workloadPool": "{{GkeTestBed.Project}}.svc.id.goog" },
          "nodePools": [
            { "name": "default-pool", "initialNodeCount": 1, "config": { "machineType": "e2-standard-4", "workloadMetadataConfig": { "mode": "GKE_METADATA" } } },
            { "name": "tpu-pool", "initialNodeCount": 1, "config": { "machineType": "ct6e-standard-4t"{{(gkeMetadata ? ", \"workloadMetadataConfig\": { \"mode\": \"GKE_METADATA\" }" : "")}} },
              "placementPolicy": { "type": "COMPACT", "tpuTopology": "2x2" } }
          ]
        }
        """)!.AsObject();

    private static WorkloadIdentityClient Client(GkeTestBed bed, GkeSession session) =>
        new(session, v => v == WorkloadIdentityClient.IamVariable ? bed.Simulator.IamEndpoint : v == WorkloadIdentityClient.StorageVariable ? bed.Simulator.StorageEndpoint : null);

    [Fact]
    public async Task TheBindingIsCheckedAndGrantedThroughTheIamPolicyWithItsEtag()
    {
        using var bed = new GkeTestBed();
        bed.Simulator.SeedCluster(GkeTestBed.Project, GkeTestBed.Zone, WorkloadIdentityCluster("wi"));
        var iam = bed.Simulator.Options.CloudIam;
        iam.AddServiceAccount(GkeTestBed.Project, "model-reader");
        iam.AddBucket(GkeTestBed.Project, "rhaii-models", new Dictionary<string, long> { ["qwen2.5-3b/config.json"] = 700 });
        iam.GrantBucket("rhaii-models", "roles/storage.objectViewer", "serviceAccount:" + Gsa);
        // someone else's binding on the account must survive the read-modify-write
        iam.GrantServiceAccount(Gsa, "roles/iam.serviceAccountUser", "user:ops@example.com");
        using var session = bed.Session();
        var client = Client(bed, session);
        var target = new WorkloadIdentityTarget(GkeTestBed.Project, GkeTestBed.Zone, "wi", "rhaii-inference", "qwen-sa", Gsa, "gs://rhaii-models/qwen2.5-3b");
        Assert.Equal("serviceAccount:rhaii-test.svc.id.goog[rhaii-inference/qwen-sa]", target.Member);

        var before = await client.CheckAsync(target, CancellationToken.None);
        Assert.Equal(("rhaii-test.svc.id.goog", true, false, (bool?)true), (before.WorkloadPool, before.ServiceAccountExists, before.BindingExists, before.BucketGrantsRead));
        Assert.Empty(before.PoolsWithoutGkeMetadata);

        await client.GrantAsync(target, CancellationToken.None);
        var after = await client.CheckAsync(target, CancellationToken.None);
        Assert.True(after.BindingExists);
        Assert.Equal((1, 0), (iam.SetIamPolicyWithEtag, iam.SetIamPolicyWithoutEtag));
        Assert.Null(iam.ReadModel(GkeTestBed.Project, true, "rhaii-inference", "qwen-sa", Gsa, "gs://rhaii-models/qwen2.5-3b"));
        Assert.Contains("user:ops@example.com", await RawPolicy(bed, Gsa));
        // granted already: no second write
        await client.GrantAsync(target, CancellationToken.None);
        Assert.Equal(1, iam.SetIamPolicyWithEtag);

        // an unknown account and a node pool without the GKE metadata server are reported
        bed.Simulator.SeedCluster(GkeTestBed.Project, GkeTestBed.Zone, WorkloadIdentityCluster("nometa", gkeMetadata: false));
        var other = await client.CheckAsync(target with { ClusterName = "nometa", GcpServiceAccount = "nobody-here@rhaii-test.iam.gserviceaccount.com" }, CancellationToken.None);
        Assert.False(other.ServiceAccountExists);
        Assert.Equal(["tpu-pool"], other.AcceleratorPoolsWithoutGkeMetadata);
    }

    private static async Task<string> RawPolicy(GkeTestBed bed, string gsa)
    {
        using var http = Http(bed);
        var r = await http.PostAsync($"{bed.Simulator.IamEndpoint}v1/projects/-/serviceAccounts/{gsa}:getIamPolicy", new StringContent("{}"));
        return await r.Content.ReadAsStringAsync();
    }

    private static HttpClient Http(GkeTestBed bed)
    {
        var http = new HttpClient();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", bed.Token);
        return http;
    }

    [Fact]
    public async Task TheIamAndStorageSimulatorIsAsStrictAsTheRealApis()
    {
        using var bed = new GkeTestBed();
        bed.Simulator.SeedCluster(GkeTestBed.Project, GkeTestBed.Zone, WorkloadIdentityCluster("wi"));
        var iam = bed.Simulator.Options.CloudIam;
        iam.AddServiceAccount(GkeTestBed.Project, "model-reader");
        using var http = Http(bed);
        var baseIam = $"{bed.Simulator.IamEndpoint}v1/projects/-/serviceAccounts/";

        var unknown = await http.PostAsync(baseIam + "ghost-account@rhaii-test.iam.gserviceaccount.com:getIamPolicy", new StringContent("{}"));
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync(baseIam + "ghost-account@rhaii-test.iam.gserviceaccount.com")).StatusCode);

        var policy = JsonNode.Parse(await (await http.PostAsync(baseIam + Gsa + ":getIamPolicy", new StringContent("{}"))).Content.ReadAsStringAsync())!;
        var etag = policy["etag"]!.ToString();
        string Set(string member, string tag) => new JsonObject
        {
            ["policy"] = new JsonObject
            {
                ["etag"] = tag,
                ["bindings"] = new JsonArray(new JsonObject { ["role"] = "roles/iam.workloadIdentityUser", ["members"] = new JsonArray(member) }),
            },
        }.ToJsonString();
        var ok = await http.PostAsync(baseIam + Gsa + ":setIamPolicy", new StringContent(Set("serviceAccount:rhaii-test.svc.id.goog[ns/ksa]", etag)));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        // the same etag again is stale now: 409 ABORTED, as IAM answers a concurrent change
        var stale = await http.PostAsync(baseIam + Gsa + ":setIamPolicy", new StringContent(Set("serviceAccount:rhaii-test.svc.id.goog[ns/other]", etag)));
        Assert.Equal(HttpStatusCode.Conflict, stale.StatusCode);
        Assert.Contains("ABORTED", await stale.Content.ReadAsStringAsync());
        // a Workload Identity member of a project without a Workload Identity cluster: the pool does not exist
        var fresh = JsonNode.Parse(await (await http.PostAsync(baseIam + Gsa + ":getIamPolicy", new StringContent("{}"))).Content.ReadAsStringAsync())!["etag"]!.ToString();
        var noPool = await http.PostAsync(baseIam + Gsa + ":setIamPolicy", new StringContent(Set("serviceAccount:other-project.svc.id.goog[ns/ksa]", fresh)));
        Assert.Equal(HttpStatusCode.BadRequest, noPool.StatusCode);
        Assert.Contains("Identity Pool does not exist (other-project.svc.id.goog)", await noPool.Content.ReadAsStringAsync());

        var bucket = await http.GetAsync($"{bed.Simulator.StorageEndpoint}v1/b/no-such-bucket/iam");
        Assert.Equal(HttpStatusCode.NotFound, bucket.StatusCode);
        var body = JsonNode.Parse(await bucket.Content.ReadAsStringAsync())!;
        Assert.Equal(("The specified bucket does not exist.", "notFound"), (body["error"]!["message"]!.ToString(), body["error"]!["errors"]![0]!["reason"]!.ToString()));

        // buckets and objects are created as gcloud does it (buckets.insert, media upload)
        Assert.Equal(HttpStatusCode.OK, (await http.PostAsync($"{bed.Simulator.StorageEndpoint}v1/b?project={GkeTestBed.Project}", new StringContent("""{"name":"uploaded-models"}"""))).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await http.PostAsync($"{bed.Simulator.StorageEndpoint}v1/b?project={GkeTestBed.Project}", new StringContent("""{"name":"uploaded-models"}"""))).StatusCode);
        var upload = new Uri(bed.Simulator.Url, "upload/storage/v1/b/uploaded-models/o?uploadType=media&name=m%2Fconfig.json");
        Assert.Equal(HttpStatusCode.OK, (await http.PostAsync(upload, new StringContent("{}", Encoding.UTF8, "application/json"))).StatusCode);
        var list = JsonNode.Parse(await http.GetStringAsync($"{bed.Simulator.StorageEndpoint}v1/b/uploaded-models/o?prefix=m%2F"))!;
        Assert.Equal("m/config.json", list["items"]![0]!["name"]!.ToString());
    }

    [Fact]
    public void TheStorageInitializerReadsOnlyWithTheBindingAndTheBucketRole()
    {
        var iam = new CloudIamStorage();
        var gsa = iam.AddServiceAccount("proj-a", "model-reader");
        iam.AddBucket("proj-a", "models", new Dictionary<string, long> { ["qwen/config.json"] = 1 });
        const string uri = "gs://models/qwen";

        var noBinding = iam.ReadModel("proj-a", true, "ns", "ksa", gsa, uri)!;
        Assert.Contains("Permission 'iam.serviceAccounts.getAccessToken' denied", noBinding);
        iam.GrantServiceAccount(gsa, "roles/iam.workloadIdentityUser", "serviceAccount:proj-a.svc.id.goog[ns/ksa]");
        // a binding for another Kubernetes ServiceAccount does not count
        Assert.Contains("getAccessToken", iam.ReadModel("proj-a", true, "ns", "other", gsa, uri));

        var noRole = iam.ReadModel("proj-a", true, "ns", "ksa", gsa, uri)!;
        Assert.Contains($"403 GET https://storage.googleapis.com/storage/v1/b/models/o?projection=noAcl&prefix=qwen", noRole);
        Assert.Contains($"{gsa} does not have storage.objects.list access to the Google Cloud Storage bucket. Permission 'storage.objects.list' denied on resource (or it may not exist).", noRole);
        iam.GrantBucket("models", "roles/storage.objectViewer", "serviceAccount:" + gsa);
        Assert.Null(iam.ReadModel("proj-a", true, "ns", "ksa", gsa, uri));

        // without the GKE metadata server the pod is the node's service account
        Assert.Contains("-compute@developer.gserviceaccount.com does not have storage.objects.list", iam.ReadModel("proj-a", false, "ns", "ksa", gsa, uri));
        // without the annotation, the federated principal; granted directly on the bucket it reads
        Assert.Contains("proj-a.svc.id.goog[ns/ksa] does not have", iam.ReadModel("proj-a", true, "ns", "ksa", null, uri));
        iam.GrantBucket("models", "roles/storage.objectViewer", $"principal://iam.googleapis.com/projects/{CloudIamStorage.ProjectNumber("proj-a")}/locations/global/workloadIdentityPools/proj-a.svc.id.goog/subject/ns/ns/sa/ksa");
        Assert.Null(iam.ReadModel("proj-a", true, "ns", "ksa", null, uri));

        Assert.Contains("No model found in gs://models/llama", iam.ReadModel("proj-a", true, "ns", "ksa", gsa, "gs://models/llama"));
        Assert.Contains("The specified bucket does not exist.", iam.ReadModel("proj-a", true, "ns", "ksa", gsa, "gs://nothing-here/x"));
    }

    private static ClusterSnapshot SnapshotWith(string initMessage)
    {
        var pod = new JsonObject
        {
            ["apiVersion"] = "v1", ["kind"] = "Pod",
            ["metadata"] = new JsonObject { ["name"] = "qwen-kserve-abc", ["namespace"] = "demo", ["labels"] = new JsonObject { ["app.kubernetes.io/name"] = "qwen", ["app.kubernetes.io/component"] = "llminferenceservice-workload" } },
            ["spec"] = new JsonObject
            {
                ["serviceAccountName"] = "qwen-sa",
                ["initContainers"] = new JsonArray(new JsonObject { ["name"] = "storage-initializer", ["args"] = new JsonArray("gs://rhaii-models/qwen", "/mnt/models") }),
                ["containers"] = new JsonArray(new JsonObject { ["name"] = "main" }),
            },
            ["status"] = new JsonObject
            {
                ["phase"] = "Pending",
                ["initContainerStatuses"] = new JsonArray(new JsonObject
                {
                    ["name"] = "storage-initializer",
                    ["state"] = new JsonObject { ["waiting"] = new JsonObject { ["reason"] = "CrashLoopBackOff" } },
                    ["lastState"] = new JsonObject { ["terminated"] = new JsonObject { ["exitCode"] = 1, ["message"] = initMessage } },
                }),
            },
        };
        var sa = new JsonObject
        {
            ["apiVersion"] = "v1", ["kind"] = "ServiceAccount",
            ["metadata"] = new JsonObject { ["name"] = "qwen-sa", ["namespace"] = "demo", ["annotations"] = new JsonObject { [GcsModels.ServiceAccountAnnotation] = Gsa } },
        };
        return ClusterSnapshot.FromText(pod.ToJsonString(), sa.ToJsonString());
    }

    [Fact]
    public void TheDiagnosisExplainsEachStorageInitializerFailureWithItsFix()
    {
        var iam = new CloudIamStorage();
        var gsa = iam.AddServiceAccount("rhaii-test", "model-reader");
        iam.AddBucket("rhaii-test", "rhaii-models", new Dictionary<string, long> { ["qwen/config.json"] = 1 });

        var noBinding = Diagnoser.Run(SnapshotWith(iam.ReadModel("rhaii-test", true, "demo", "qwen-sa", gsa, "gs://rhaii-models/qwen")!));
        var wi = Assert.Single(noBinding, f => f.CheckId == "WorkloadIdentityBindingMissing");
        Assert.Contains($"gcloud iam service-accounts add-iam-policy-binding {Gsa} --role roles/iam.workloadIdentityUser --member \"serviceAccount:rhaii-test.svc.id.goog[demo/qwen-sa]\"", wi.Fix);
        Assert.DoesNotContain(noBinding, f => f.CheckId == "HuggingFaceTokenRejected");

        iam.GrantServiceAccount(gsa, "roles/iam.workloadIdentityUser", "serviceAccount:rhaii-test.svc.id.goog[demo/qwen-sa]");
        var denied = Diagnoser.Run(SnapshotWith(iam.ReadModel("rhaii-test", true, "demo", "qwen-sa", gsa, "gs://rhaii-models/qwen")!));
        var d = Assert.Single(denied, f => f.CheckId == "GcsAccessDenied");
        Assert.Equal(FindingSeverity.Error, d.Severity);
        Assert.Contains("403", d.Message);
        Assert.Equal($"gcloud storage buckets add-iam-policy-binding gs://rhaii-models --member serviceAccount:{Gsa} --role roles/storage.objectViewer", d.Fix);
        Assert.DoesNotContain(denied, f => f.CheckId == "HuggingFaceTokenRejected");

        var anonymous = Diagnoser.Run(SnapshotWith("google.api_core.exceptions.Unauthorized: 401 GET https://storage.googleapis.com/storage/v1/b/rhaii-models/o?prefix=qwen: Anonymous caller does not have storage.objects.list access to the Google Cloud Storage bucket. Permission 'storage.objects.list' denied on resource (or it may not exist)."));
        Assert.Contains("iam.gke.io/gcp-service-account", Assert.Single(anonymous, f => f.CheckId == "GcsAccessDenied").Fix);

        iam.GrantBucket("rhaii-models", "roles/storage.objectViewer", "serviceAccount:" + gsa);
        Assert.Single(Diagnoser.Run(SnapshotWith(iam.ReadModel("rhaii-test", true, "demo", "qwen-sa", gsa, "gs://rhaii-models/llama")!)), f => f.CheckId == "GcsModelNotFound");
        Assert.Contains("GcsAccessDenied", Diagnoser.CheckIds);
    }
}
