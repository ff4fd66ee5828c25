using RhaiiGke.Tests.Manifests;
using Xunit;

namespace RhaiiGke.Tests.Gke;

/// <summary>
/// Issue 10, defects 5 and 7 on the GKE commands: a malformed project id is refused on every GKE command
/// before any request, and Get-TpuClusterCredential refuses to merge into a hostile kubeconfig (alias bomb,
/// 50,000-deep nesting) with a clear error, leaving the file as it was.
/// </summary>
[Collection("GkeCmdlets")]
public class HostileGkeInputTests
{
    [Theory]
    [InlineData("BAD PROJECT")]
    [InlineData("Upper-Case-Project")]
    [InlineData("proj")]
    [InlineData("9starts-with-digit")]
    [InlineData("ends-with-hyphen-")]
    [InlineData("a-project-id-that-is-far-too-long-for-gcp")]
    public void MalformedProjectIdsAreRefusedOnEveryGkeCommandBeforeAnyRequest(string project)
    {
        using var bed = new GkeTestBed();
        using var ps = new GkeCmdletHost(bed);
        foreach (var command in new[]
                 {
                     "Get-TpuCluster @c",
                     "Get-TpuCluster @c -Name x -Zone europe-west4-a",
                     "New-TpuCluster @c -Name x -Zone europe-west4-a -SystemNodeCount 1 -Confirm:$false",
                     "Remove-TpuCluster @c -Name x -Zone europe-west4-a -Confirm:$false",
                     "Set-TpuNodePool @c -ClusterName x -Zone europe-west4-a -Size 1 -Confirm:$false",
                     "Get-TpuClusterCredential @c -Name x -Zone europe-west4-a",
                     "Test-RhaiiPrerequisites @c -ServiceUsageEndpoint $sim.ServiceUsageEndpoint -Zone europe-west4-a",
                 })
        {
            var error = ps.Run($"$c.Project = '{project}'; {command}").Error;
            Assert.True(error.FullyQualifiedErrorId.StartsWith("InvalidProjectId,", StringComparison.Ordinal), $"{command}: {error.FullyQualifiedErrorId} {error}");
            Assert.Equal(System.Management.Automation.ErrorCategory.InvalidArgument, error.CategoryInfo.Category);
        }
        Assert.DoesNotContain(bed.Simulator.RequestLog, r => !r.Contains("/token", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("my-project-123")]
    [InlineData("example.com:my-project")]
    [InlineData("rhaii-test")]
    public void ValidProjectIdsPass(string project) => Assert.Equal(project, RhaiiGke.Engine.Gke.GkeSession.ValidateProjectId(project));

    [Theory]
    [InlineData("bomb", "YamlAliasExpansionTooLarge")]
    [InlineData("deep", "YamlNestingTooDeep")]
    public void CredentialMergeIntoAHostileKubeconfigIsAClearErrorAndLeavesTheFile(string kind, string errorId)
    {
        using var bed = new GkeTestBed();
        using var ps = new GkeCmdletHost(bed);
        var dir = Directory.CreateTempSubdirectory("rhaii-hostile-kc-").FullName;
        try
        {
            var path = Path.Combine(dir, "config");
            var text = kind == "bomb"
                ? "apiVersion: v1\nkind: Config\n" + HostileYamlTests.AliasBomb()
                : "apiVersion: v1\nkind: Config\npreferences: " + HostileYamlTests.DeepFlow() + "\n";
            File.WriteAllText(path, text);
            ps.Ok("New-TpuCluster @c -Name kc -Zone europe-west4-a -SystemNodeCount 1");
            var error = ps.Run($"Get-TpuCluster @c -Name kc -Zone europe-west4-a | Get-TpuClusterCredential @c -Path '{path}'").Error;
            Assert.StartsWith(errorId + ",", error.FullyQualifiedErrorId);
            Assert.Equal(text, File.ReadAllText(path));
        }
        finally { Directory.Delete(dir, true); }
    }
}
