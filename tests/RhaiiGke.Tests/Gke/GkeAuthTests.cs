using RhaiiGke.Engine.Gke;
using Xunit;

namespace RhaiiGke.Tests.Gke;

public class GkeAuthTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rhaii-gke-auth-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task ServiceAccountKeyGetsATokenFromItsTokenUri()
    {
        using var bed = new GkeTestBed();
        var key = bed.Simulator.WriteServiceAccountKey(Path.Combine(_dir, "sa.json"), "key-project");
        var options = bed.Connection(project: null);
        options.AccessToken = null;
        options.CredentialFile = key;
        using var session = GkeSession.Open(options, bed.Log, _ => null);
        Assert.Equal("key-project", session.DefaultProject);
        Assert.StartsWith("service-account key", session.CredentialDescription);
        var clusters = await new GkeClient(session).ListClustersAsync("key-project", "-", default);
        Assert.Empty(clusters);
        Assert.Equal(1, bed.Simulator.CountRequests("POST", "/token"));
    }

    [Fact]
    public async Task RejectedKeyIsAnAuthenticationErrorWithoutSecrets()
    {
        using var bed = new GkeTestBed();
        bed.Simulator.Faults.RejectTokenRequests = true;
        var key = bed.Simulator.WriteServiceAccountKey(Path.Combine(_dir, "sa.json"), "key-project");
        var options = bed.Connection();
        options.AccessToken = null;
        options.CredentialFile = key;
        using var session = GkeSession.Open(options, bed.Log, _ => null);
        var ex = await Assert.ThrowsAsync<GkeApiException>(() => new GkeClient(session).ListClustersAsync("p", "-", default));
        Assert.Equal("GkeAuthenticationFailed", ex.ErrorId);
        Assert.Contains("invalid_grant", ex.Message);
        Assert.DoesNotContain("PRIVATE KEY", ex.ToString());
    }

    [Fact]
    public void MissingOrBadKeyFilesAreClearErrors()
    {
        var missing = Assert.Throws<RhaiiException>(() => GkeSession.Open(new GkeConnectionOptions { CredentialFile = Path.Combine(_dir, "none.json") }, null, _ => null));
        Assert.Equal("CredentialFileNotFound", missing.ErrorId);
        var bad = Path.Combine(_dir, "bad.json");
        File.WriteAllText(bad, """{"type":"authorized_user","client_id":"x","client_secret":"s3cr3t","refresh_token":"r"}""");
        var ex = Assert.Throws<RhaiiException>(() => GkeSession.Open(new GkeConnectionOptions { CredentialFile = bad }, null, _ => null));
        Assert.Equal("InvalidCredentialFile", ex.ErrorId);
        Assert.DoesNotContain("s3cr3t", ex.Message);
    }

    [Fact]
    public void ProjectComesFromParameterThenEnvironmentThenGcloudConfig()
    {
        var cfg = Directory.CreateDirectory(Path.Combine(_dir, "gcloud", "configurations")).FullName;
        File.WriteAllText(Path.Combine(_dir, "gcloud", "active_config"), "work");
        File.WriteAllText(Path.Combine(cfg, "config_work"), "[core]\naccount = me@example.com\nproject = from-gcloud\n");
        var env = new Dictionary<string, string?> { ["CLOUDSDK_CONFIG"] = Path.Combine(_dir, "gcloud") };
        var options = new GkeConnectionOptions { AccessToken = GkeTestBed.Secure("t") };
        using (var s = GkeSession.Open(options, null, k => env.GetValueOrDefault(k))) Assert.Equal("from-gcloud", s.DefaultProject);
        env["GOOGLE_CLOUD_PROJECT"] = "from-env";
        using (var s = GkeSession.Open(options, null, k => env.GetValueOrDefault(k))) Assert.Equal("from-env", s.DefaultProject);
        options.Project = "explicit";
        using (var s = GkeSession.Open(options, null, k => env.GetValueOrDefault(k))) Assert.Equal("explicit", s.RequireProject());
        using var none = GkeSession.Open(new GkeConnectionOptions { AccessToken = GkeTestBed.Secure("t") }, null, _ => null);
        Assert.Equal("GkeProjectRequired", Assert.Throws<RhaiiException>(() => none.RequireProject()).ErrorId);
    }

    [Fact]
    public void OptionsDescriptionNeverShowsTheToken()
    {
        var o = new GkeConnectionOptions { AccessToken = GkeTestBed.Secure("ya29.very-secret") };
        Assert.DoesNotContain("very-secret", o.ToString());
    }
}
