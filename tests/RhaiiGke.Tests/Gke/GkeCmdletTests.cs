using RhaiiGke.Engine.Gke;
using Xunit;

namespace RhaiiGke.Tests.Gke;

[Collection("GkeCmdlets")]
public class GkeCmdletTests
{
    [Fact]
    public void CreateGetScaleToZeroAndBackRemove()
    {
        using var bed = new GkeTestBed();
        using var ps = new GkeCmdletHost(bed);

        var created = ps.Ok("New-TpuCluster @c -Name life -Zone europe-west4-a -Accelerator v6e -Topology 2x2 -InitialNodeCount 1 -MaxNodes 2 -SystemNodeCount 1 -Label @{ team = 'ml' }")
            .Single<TpuCluster>();
        Assert.Equal("RUNNING", created.Status);
        Assert.Equal("https://127.0.0.1:6443", created.Endpoint);
        var tpu = Assert.Single(created.TpuNodePools);
        Assert.Equal(("ct6e-standard-4t", "2x2", 1, 0, 2), (tpu.MachineType, tpu.Topology, tpu.NodeCount, tpu.MinNodes, tpu.MaxNodes));

        var got = ps.Ok("Get-TpuCluster @c -Name life -Zone europe-west4-a").Single<TpuCluster>();
        Assert.Equal("ml", got.Labels["team"]);
        Assert.Equal(["life"], ps.Ok("Get-TpuCluster @c -Name 'li*'").Output.Select(o => ((TpuCluster)o.BaseObject).Name));

        var zero = ps.Ok("Get-TpuCluster @c -Name life -Zone europe-west4-a | Set-TpuNodePool -ScaleToZero -AccessToken $token -Endpoint $c.Endpoint -ComputeEndpoint $c.ComputeEndpoint").Single<TpuNodePool>();
        Assert.Equal(0, zero.NodeCount);
        Assert.Equal(0, zero.MinNodes);
        Assert.Equal(0, bed.Simulator.GetCluster(GkeTestBed.Project, GkeTestBed.Zone, "life")!.NodePools.Single(p => p.Name == "tpu-pool").NodeCount);

        var back = ps.Ok("Set-TpuNodePool @c -ClusterName life -Zone europe-west4-a -Size 2").Single<TpuNodePool>();
        Assert.Equal(2, back.NodeCount);
        var noAutoscaling = ps.Ok("Set-TpuNodePool @c -ClusterName life -Zone europe-west4-a -Name tpu-pool -DisableAutoscaling").Single<TpuNodePool>();
        Assert.False(noAutoscaling.AutoscalingEnabled);

        // nothing serves this bare simulator's cluster endpoint: the Gateway check cannot run, so only -Force deletes
        var unchecked_ = ps.Run("Get-TpuCluster @c -Name life -Zone europe-west4-a | Remove-TpuCluster @c -Confirm:$false").Error;
        Assert.StartsWith("ClusterGatewayCheckFailed", unchecked_.FullyQualifiedErrorId);
        Assert.Single(bed.Simulator.ClusterKeys);
        var removed = ps.Ok("Get-TpuCluster @c -Name life -Zone europe-west4-a | Remove-TpuCluster @c -Force -PassThru").Single<GkeOperation>();
        Assert.Equal("DELETE_CLUSTER", removed.OperationType);
        Assert.True(removed.Done);
        Assert.Empty(bed.Simulator.ClusterKeys);
        // Removing what is gone is not an error.
        ps.Ok("Remove-TpuCluster @c -Name life -Zone europe-west4-a -Confirm:$false");
        Assert.Equal("TpuClusterNotFound", ps.Run("Get-TpuCluster @c -Name life -Zone europe-west4-a").Error.FullyQualifiedErrorId.Split(',')[0]);
    }

    [Fact]
    public void ReRunIsIdempotentAndReportsDrift()
    {
        using var bed = new GkeTestBed();
        using var ps = new GkeCmdletHost(bed);
        ps.Ok("New-TpuCluster @c -Name idem -Zone europe-west4-a -SystemNodeCount 1");
        var again = ps.Ok("New-TpuCluster @c -Name idem -Zone europe-west4-a -SystemNodeCount 1 -ReleaseChannel RAPID -Spot -WarningVariable w; $w");
        var cluster = (TpuCluster)again.Output[0].BaseObject;
        Assert.Contains(cluster.Drift, d => d.Contains("release channel", StringComparison.Ordinal) && d.Contains("RAPID", StringComparison.Ordinal));
        Assert.Contains(cluster.Drift, d => d.Contains("spot", StringComparison.Ordinal));
        Assert.Contains(again.Output.Skip(1), o => o.ToString().Contains("Drift", StringComparison.Ordinal));
        Assert.Equal(1, bed.Simulator.CountRequests("POST", "/clusters/idem/nodePools"));
        Assert.Single(bed.Simulator.ClusterKeys);
    }

    [Fact]
    public void AsJobRunsInTheBackgroundAndReturnsTheCluster()
    {
        using var bed = new GkeTestBed();
        using var ps = new GkeCmdletHost(bed);
        var job = ps.Ok("New-TpuCluster @c -Name job -Zone europe-west4-a -SystemNodeCount 1 -AsJob").Single<System.Management.Automation.Job>();
        Assert.Equal("RhaiiGkeJob", job.PSJobTypeName);
        var r = ps.Ok($"Get-Job -Id {job.Id} | Wait-Job -Timeout 60 | Receive-Job -Wait -AutoRemoveJob");
        var cluster = (TpuCluster)Assert.Single(r.Output).BaseObject;
        Assert.Equal("RUNNING", Assert.Single(cluster.TpuNodePools).Status);

        bed.Simulator.Faults.StockoutZones.Add("us-east5-a");
        var failed = ps.Ok("New-TpuCluster @c -Name jobso -Zone us-east5-a -SystemNodeCount 1 -InitialNodeCount 1 -AsJob | Wait-Job -Timeout 60").Single<System.Management.Automation.Job>();
        Assert.Equal(System.Management.Automation.JobState.Failed, failed.JobStateInfo.State);
        Assert.StartsWith("GkeStockout", Assert.Single(failed.Error).FullyQualifiedErrorId);
        Assert.Empty(ps.Ok("New-TpuCluster @c -Name never -Zone europe-west4-a -AsJob -WhatIf").Output);
    }

    [Fact]
    public void ASpecPipesIntoThePreflightAndTheCreate()
    {
        using var bed = new GkeTestBed();
        using var ps = new GkeCmdletHost(bed);
        var r = ps.Ok("$s = [RhaiiGke.TpuClusterSpec]::new(); $s.Name = 'fromspec'; $s.Project = 'rhaii-test'; $s.Zone = 'europe-west4-a'; $s.Topology = '2x4'; $s.SystemNodeCount = 1; " +
            "$n = @{ AccessToken = $token; Endpoint = $c.Endpoint; ComputeEndpoint = $c.ComputeEndpoint }; " +
            "($s | Test-RhaiiPrerequisites @n -ServiceUsageEndpoint $sim.ServiceUsageEndpoint).Passed; $s | New-TpuCluster @n");
        Assert.True((bool)r.Output[0].BaseObject);
        var cluster = (TpuCluster)r.Output[1].BaseObject;
        Assert.Equal(("rhaii-test", "ct6e-standard-8t"), (cluster.Project, Assert.Single(cluster.TpuNodePools).MachineType));
    }

    [Fact]
    public void WhatIfChangesNothing()
    {
        using var bed = new GkeTestBed();
        using var ps = new GkeCmdletHost(bed);
        var r = ps.Ok("New-TpuCluster @c -Name wi -Zone europe-west4-a -WhatIf");
        Assert.Empty(r.Output);
        Assert.Equal(0, bed.Simulator.CountRequests("POST", "/"));
        ps.Ok("New-TpuCluster @c -Name wi -Zone europe-west4-a");
        ps.Ok("Set-TpuNodePool @c -ClusterName wi -Zone europe-west4-a -ScaleToZero -WhatIf");
        ps.Ok("Remove-TpuCluster @c -Name wi -Zone europe-west4-a -Force -WhatIf");
        Assert.Equal(0, bed.Simulator.CountRequests("POST", ":setSize"));
        Assert.Equal(0, bed.Simulator.CountRequests("DELETE", "/"));
    }

    [Fact]
    public void StockoutIsClassifiedNamesOtherZonesAndCleansUpThePool()
    {
        using var bed = new GkeTestBed();
        bed.Simulator.Faults.StockoutZones.Add("europe-west4-a");
        using var ps = new GkeCmdletHost(bed);
        var r = ps.Run("New-TpuCluster @c -Name so -Zone europe-west4-a -InitialNodeCount 1");
        var error = r.Error;
        Assert.StartsWith("GkeStockout", error.FullyQualifiedErrorId);
        Assert.Equal(System.Management.Automation.ErrorCategory.ResourceUnavailable, error.CategoryInfo.Category);
        var ex = Assert.IsType<GkeApiException>(error.Exception);
        Assert.Equal("ZONE_RESOURCE_POOL_EXHAUSTED", ex.Reason);
        Assert.Contains("us-central1-b", ex.AlternativeZones);
        Assert.Contains("us-east5-a", ex.AlternativeZones);
        Assert.DoesNotContain("europe-west4-a", ex.AlternativeZones);
        Assert.DoesNotContain("europe-west4-b", ex.AlternativeZones); // offers v5e only
        Assert.Contains("us-central1-b", error.ErrorDetails.RecommendedAction);
        var left = bed.Simulator.GetCluster(GkeTestBed.Project, GkeTestBed.Zone, "so")!;
        Assert.DoesNotContain(left.NodePools, p => p.Name == "tpu-pool");

        // Capacity comes back: the same command finishes the job, reusing the cluster.
        bed.Simulator.Faults.StockoutZones.Remove("europe-west4-a");
        var done = ps.Ok("New-TpuCluster @c -Name so -Zone europe-west4-a -InitialNodeCount 1").Single<TpuCluster>();
        Assert.Equal("RUNNING", Assert.Single(done.TpuNodePools).Status);
        Assert.Equal(1, bed.Simulator.CountRequests("POST", "/locations/europe-west4-a/clusters") - bed.Simulator.CountRequests("POST", "/nodePools"));
    }

    [Fact]
    public void TooLittleQuotaFailsBeforeAnythingIsCreated()
    {
        using var bed = new GkeTestBed();
        bed.Simulator.SetQuota(GkeTestBed.Project, "europe-west4", "TPU_V6E_SLICE", 2);
        using var ps = new GkeCmdletHost(bed);

        var pre = ps.Ok("Test-RhaiiPrerequisites @c -ServiceUsageEndpoint $sim.ServiceUsageEndpoint -Zone europe-west4-a -Accelerator v6e -Topology 2x2").Single<TestRhaiiPrerequisitesResult>();
        Assert.False(pre.Passed);
        var quota = Assert.Single(pre.Failures);
        Assert.Equal("TpuQuota", quota.Name);
        Assert.Equal(2.0, quota.Data["Available"]);
        Assert.Contains("TPU_V6E_SLICE", quota.RecommendedAction);

        var r = ps.Run("New-TpuCluster @c -Name nq -Zone europe-west4-a -Topology 2x2");
        Assert.StartsWith("GkeQuotaExceeded", r.Error.FullyQualifiedErrorId);
        Assert.Equal(System.Management.Automation.ErrorCategory.QuotaExceeded, r.Error.CategoryInfo.Category);
        Assert.Contains("nothing was created", r.Error.Exception.Message);
        Assert.Equal(0, bed.Simulator.CountRequests("POST", "/"));
        Assert.Empty(bed.Simulator.ClusterKeys);
    }

    [Fact]
    public void PreflightPassesAndExplainsEachCheck()
    {
        using var bed = new GkeTestBed();
        using var ps = new GkeCmdletHost(bed);
        var ok = ps.Ok("Test-RhaiiPrerequisites @c -ServiceUsageEndpoint $sim.ServiceUsageEndpoint -Zone europe-west4-a -Accelerator v6e -Topology 2x4 -MaxNodes 2").Single<TestRhaiiPrerequisitesResult>();
        Assert.True(ok.Passed, string.Join("\n", ok.Checks));
        Assert.Equal(["Credentials", "Project", "ApiEnabled:container.googleapis.com", "ApiEnabled:compute.googleapis.com", "MachineTypeTopology", "AcceleratorInZone", "MachineTypeInZone", "TpuQuota"],
            ok.Checks.Select(c => c.Name));
        Assert.All(ok.Checks, c => Assert.Equal(PrerequisiteStatus.Passed, c.Status));
        Assert.Equal(16, ok.ChipsRequired);

        var wrongZone = ps.Ok("Test-RhaiiPrerequisites @c -ServiceUsageEndpoint $sim.ServiceUsageEndpoint -Zone europe-west4-b -Accelerator v6e -Topology 2x2").Single<TestRhaiiPrerequisitesResult>();
        var zone = wrongZone.Checks.Single(c => c.Name == "AcceleratorInZone");
        Assert.Equal(PrerequisiteStatus.Failed, zone.Status);
        Assert.Contains("europe-west4-a", (IReadOnlyList<string>)zone.Data["AlternativeZones"]!);

        var badTopology = ps.Ok("Test-RhaiiPrerequisites @c -ServiceUsageEndpoint $sim.ServiceUsageEndpoint -Zone europe-west4-a -Accelerator v6e -Topology 2x2 -MachineType ct6e-standard-8t").Single<TestRhaiiPrerequisitesResult>();
        Assert.Equal(PrerequisiteStatus.Failed, badTopology.Checks.Single(c => c.Name == "MachineTypeTopology").Status);
    }

    [Fact]
    public void PreflightReportsDisabledApisAndChecksAnExistingCluster()
    {
        using var bed = new GkeTestBed();
        using var ps = new GkeCmdletHost(bed);
        ps.Ok("New-TpuCluster @c -Name pc -Zone europe-west4-a -SystemNodeCount 1");
        var r = ps.Ok("Test-RhaiiPrerequisites @c -ServiceUsageEndpoint $sim.ServiceUsageEndpoint -Zone europe-west4-a -Cluster pc").Single<TestRhaiiPrerequisitesResult>();
        Assert.True(r.Passed, string.Join("\n", r.Checks));
        Assert.Equal(PrerequisiteStatus.Passed, r.Checks.Single(c => c.Name == "ClusterRunning").Status);
        Assert.Equal(PrerequisiteStatus.Passed, r.Checks.Single(c => c.Name == "GatewayApi").Status);
        Assert.Equal(PrerequisiteStatus.Passed, r.Checks.Single(c => c.Name == "NetworkPolicyEnforced").Status);
        // nothing serves this bare simulator's cluster endpoint: the CRD check says it could not run
        Assert.Equal(PrerequisiteStatus.Warning, r.Checks.Single(c => c.Name == "RequiredCrds").Status);

        bed.Simulator.Options.DisabledApis.Add("compute.googleapis.com");
        var disabled = ps.Ok("Test-RhaiiPrerequisites @c -ServiceUsageEndpoint $sim.ServiceUsageEndpoint -Zone europe-west4-a -Accelerator v6e").Single<TestRhaiiPrerequisitesResult>();
        Assert.False(disabled.Passed);
        Assert.Equal(PrerequisiteStatus.Failed, disabled.Checks.Single(c => c.Name == "ApiEnabled:compute.googleapis.com").Status);
        Assert.Contains("gcloud services enable compute.googleapis.com", disabled.Checks.Single(c => c.Name == "ApiEnabled:compute.googleapis.com").RecommendedAction);
    }

    [Fact]
    public void PermissionDeniedBecomesATypedErrorRecord()
    {
        using var bed = new GkeTestBed();
        bed.Simulator.Faults.DeniedPermissions.Add("container.clusters.list");
        using var ps = new GkeCmdletHost(bed);
        var e = ps.Run("Get-TpuCluster @c").Error;
        Assert.StartsWith("GkePermissionDenied", e.FullyQualifiedErrorId);
        Assert.Equal(System.Management.Automation.ErrorCategory.PermissionDenied, e.CategoryInfo.Category);
        Assert.Contains("roles/container.admin", e.ErrorDetails.RecommendedAction);
    }

    [Fact]
    public void CredentialsWriteAPluginKubeconfigAndKeepTokensOutOfFiles()
    {
        using var bed = new GkeTestBed();
        using var ps = new GkeCmdletHost(bed);
        var dir = Directory.CreateTempSubdirectory("rhaii-kubeconfig-").FullName;
        try
        {
            var path = Path.Combine(dir, "config");
            File.WriteAllText(path, "apiVersion: v1\nkind: Config\nclusters:\n- name: other\n  cluster:\n    server: https://10.0.0.1\ncontexts: []\nusers: []\ncurrent-context: other\n");
            ps.Ok("New-TpuCluster @c -Name kc -Zone europe-west4-a -SystemNodeCount 1");
            var cred = ps.Ok($"Get-TpuCluster @c -Name kc -Zone europe-west4-a | Get-TpuClusterCredential @c -Path '{path}'").Single<TpuClusterCredential>();
            Assert.Equal("gke_rhaii-test_europe-west4-a_kc", cred.ContextName);
            Assert.Equal(ClusterAuthMode.GcloudAuthPlugin, cred.AuthMode);
            Assert.Null(cred.Token);
            var text = File.ReadAllText(path);
            Assert.Contains("command: gke-gcloud-auth-plugin", text);
            Assert.Contains("name: other", text);
            Assert.Contains("current-context: gke_rhaii-test_europe-west4-a_kc", text);
            Assert.Contains("certificate-authority-data:", text);
            if (!OperatingSystem.IsWindows()) Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));

            var token = ps.Ok("Get-TpuClusterCredential @c -Name kc -Zone europe-west4-a -AuthMode Token").Single<TpuClusterCredential>();
            Assert.Equal(bed.Token, new System.Net.NetworkCredential("", token.Token).Password);
            Assert.DoesNotContain(bed.Token, token.Kubeconfig);
            Assert.DoesNotContain(bed.Token, token.ToString());

            var refused = ps.Run($"Get-TpuClusterCredential @c -Name kc -Zone europe-west4-a -AuthMode Token -Path '{Path.Combine(dir, "t")}'").Error;
            Assert.StartsWith("TokenKubeconfigRefused", refused.FullyQualifiedErrorId);
            Assert.False(File.Exists(Path.Combine(dir, "t")));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void TokensNeverAppearInAnyStream()
    {
        using var bed = new GkeTestBed();
        bed.Simulator.Faults.StockoutZones.Add("europe-west4-a");
        using var ps = new GkeCmdletHost(bed);
        var all = ps.Run("$VerbosePreference = 'Continue'; $DebugPreference = 'Continue'; " +
            "New-TpuCluster @c -Name sec -Zone europe-west4-a -InitialNodeCount 1 -Verbose -Debug; " +
            "Get-TpuCluster @c -Verbose -Debug | Format-List * | Out-String; " +
            "Get-TpuClusterCredential @c -Name sec -Zone europe-west4-a -AuthMode Token -Verbose | Format-List * | Out-String; " +
            "Test-RhaiiPrerequisites @c -Zone europe-west4-a -Accelerator v6e -Verbose -Debug | Format-List * | Out-String");
        var everything = all.Streams + string.Join("\n", all.Output.Select(o => o.ToString()));
        Assert.Contains("DEBUG: GET", all.Streams); // the request log is there...
        Assert.DoesNotContain(bed.Token, everything); // ...but never the token
        Assert.DoesNotContain("Bearer", everything);
    }
}
