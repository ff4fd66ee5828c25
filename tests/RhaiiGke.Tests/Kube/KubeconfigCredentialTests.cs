using System.Management.Automation;
using RhaiiGke.Sandbox.KubeApi;
using RhaiiGke.Tests.Infrastructure;
using Xunit;

namespace RhaiiGke.Tests.Kube;

/// <summary>
/// Issue 12 item 3: Connect-RhaiiCluster with kubeconfig users that run exec credential plugins, and every kubeconfig
/// problem as one error with a stable ErrorId, category and fix (never a parser's or the client library's stack trace).
/// The plugins are small shell scripts (what kubectl runs is a program on PATH or a path); the cluster is a sandbox
/// API server that accepts only its own bearer token.
/// </summary>
public sealed class KubeconfigCredentialTests : IDisposable
{
    private readonly KubeApiSimulator _sim;
    private readonly string _dir;
    private readonly PowerShellHost _ps = new();

    public KubeconfigCredentialTests()
    {
        _sim = new KubeApiSimulator(KubeApiSimulatorOptions.Fast(TimeSpan.FromMilliseconds(15)));
        _sim.Start();
        _dir = Directory.CreateTempSubdirectory("rhaii-kubeconfig-").FullName;
    }

    public void Dispose()
    {
        _ps.Dispose();
        _sim.Dispose();
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    /// <summary>A kubeconfig whose user is <paramref name="user"/> (YAML under "user:"), for the sandbox with its CA.</summary>
    private string Kubeconfig(string user, string name = "kubeconfig")
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, $"""
            apiVersion: v1
            kind: Config
            current-context: sandbox
            clusters:
            - name: sandbox
              cluster:
                server: {_sim.Server}
                certificate-authority-data: {_sim.CaCertificateData}
            contexts:
            - name: sandbox
              context:
                cluster: sandbox
                user: me
            users:
            - name: me
              user:
            {user}
            """);
        return path;
    }

    private static string Exec(string command, string? env = null)
    {
        var lines = new List<string>
        {
            "    exec:",
            "      apiVersion: client.authentication.k8s.io/v1beta1",
            $"      command: '{command}'",
            "      installHint: 'Install the me-plugin: apt-get install me-plugin'",
            "      provideClusterInfo: true",
        };
        if (env is not null) lines.AddRange(["      env:", $"      - name: {env.Split('=')[0]}", $"        value: '{env.Split('=', 2)[1]}'"]);
        return string.Join("\n", lines);
    }

    /// <summary>An executable shell script plugin.</summary>
    private string Script(string name, string body)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, "#!/bin/sh\n" + body + "\n");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return path;
    }

    /// <summary>Connect-RhaiiCluster's result: the connection, or the error record it stopped with.</summary>
    private object Connect(string kubeconfig)
    {
        var output = _ps.Run($"try {{ Connect-RhaiiCluster -Kubeconfig '{kubeconfig}' -NoDefault -ErrorAction Stop }} catch {{ $_ }}");
        return Assert.Single(output).BaseObject;
    }

    private static ErrorRecord AssertError(object result, string errorId, ErrorCategory category)
    {
        var e = Assert.IsType<ErrorRecord>(result);
        Assert.Equal(errorId, e.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(category, e.CategoryInfo.Category);
        var message = e.Exception.Message;
        Assert.DoesNotContain("   at ", message);
        Assert.DoesNotContain("System.Text.Json", message);
        Assert.DoesNotContain("\n", message.TrimEnd());
        Assert.False(string.IsNullOrWhiteSpace(e.ErrorDetails?.RecommendedAction ?? (e.Exception as RhaiiException)?.RecommendedAction), "a fix is recommended");
        return e;
    }

    private static string Fix(ErrorRecord e) => e.ErrorDetails?.RecommendedAction ?? ((RhaiiException)e.Exception).RecommendedAction ?? "";

    [Fact]
    public void AnExecPluginsTokenConnectsAndIsReusedUntilItExpires()
    {
        if (OperatingSystem.IsWindows()) return;
        var runs = Path.Combine(_dir, "runs");
        var info = Path.Combine(_dir, "exec-info");
        var expires = DateTimeOffset.UtcNow.AddHours(1).ToString("yyyy-MM-ddTHH:mm:ssZ");
        var plugin = Script("me-plugin", $$$"""
            echo run >> '{{{runs}}}'
            printf '%s' "$KUBERNETES_EXEC_INFO" > '{{{info}}}'
            printf '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"{{{_sim.Token}}}","expirationTimestamp":"{{{expires}}}"}}'
            """);
        var kc = Kubeconfig(Exec(plugin));

        var first = Assert.IsType<ClusterConnection>(Connect(kc));
        Assert.Equal(ClusterAuthKind.Kubeconfig, first.AuthKind);
        Assert.False(string.IsNullOrEmpty(first.ServerVersion));
        // provideClusterInfo: the plugin is told which cluster it authenticates to, and that no one can answer a prompt
        var execInfo = File.ReadAllText(info);
        Assert.Contains(_sim.Server, execInfo);
        Assert.Contains("\"interactive\":false", execInfo);

        // the token is kept until shortly before it expires: a second connection and a cluster command do not rerun the plugin
        Assert.IsType<ClusterConnection>(Connect(kc));
        _ps.Run($"Connect-RhaiiCluster -Kubeconfig '{kc}' | Get-RhaiiOperatorStatus | Out-Null");
        Assert.Single(File.ReadAllLines(runs));
    }

    [Fact]
    public void ACachedTokenTheServerRejectsRunsThePluginAgainOnce()
    {
        if (OperatingSystem.IsWindows()) return;
        // The first run hands out a token that is revoked before its expiry (rotated credentials, a new gcloud
        // account): the 401 drops it and the plugin runs again, as client-go does, instead of failing until expiry.
        var runs = Path.Combine(_dir, "stale-runs");
        var expires = DateTimeOffset.UtcNow.AddHours(1).ToString("yyyy-MM-ddTHH:mm:ssZ");
        var plugin = Script("stale-plugin", $$$"""
            if [ -f '{{{runs}}}' ]; then t='{{{_sim.Token}}}'; else t='revoked-token'; fi
            echo run >> '{{{runs}}}'
            printf '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"%s","expirationTimestamp":"{{{expires}}}"}}' "$t"
            """);
        var kc = Kubeconfig(Exec(plugin));
        var connection = Assert.IsType<ClusterConnection>(Connect(kc));
        Assert.False(string.IsNullOrEmpty(connection.ServerVersion));
        Assert.Equal(2, File.ReadAllLines(runs).Length);
        // the new token is kept: more commands do not run the plugin again
        _ps.Run($"Connect-RhaiiCluster -Kubeconfig '{kc}' | Get-RhaiiOperatorStatus | Out-Null");
        Assert.Equal(2, File.ReadAllLines(runs).Length);
    }

    [Fact]
    public void ATokenTheServerRefusesIsUnauthorizedNotAKubeconfigError()
    {
        if (OperatingSystem.IsWindows()) return;
        var plugin = Script("wrong-token", """printf '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"not-the-sandbox-token"}}'""");
        var e = Assert.IsType<ErrorRecord>(Connect(Kubeconfig(Exec(plugin))));
        Assert.Equal("KubeApiUnauthorized", e.FullyQualifiedErrorId.Split(',')[0]);
    }

    [Fact]
    public void AMissingPluginIsNamedWithItsInstallHint()
    {
        var e = AssertError(Connect(Kubeconfig(Exec("rhaii-no-such-plugin"))), "KubeconfigExecPluginNotFound", ErrorCategory.ObjectNotFound);
        Assert.Contains("rhaii-no-such-plugin", e.Exception.Message);
        Assert.Contains("apt-get install me-plugin", Fix(e));
    }

    [Fact]
    public void AFailingPluginSaysWhatItSaidInOneLineWithoutSecrets()
    {
        if (OperatingSystem.IsWindows()) return;
        var plugin = Script("failing", """
            echo 'E1207 00:28:55.054926   10059 cred.go:145] boom: the refresh token ya29.a0AfB_secretSECRET123 was revoked' >&2
            echo '' >&2
            exit 3
            """);
        var e = AssertError(Connect(Kubeconfig(Exec(plugin))), "KubeconfigExecFailed", ErrorCategory.AuthenticationError);
        Assert.Contains("exit code 3", e.Exception.Message);
        Assert.Contains("boom: the refresh token [redacted] was revoked", e.Exception.Message);
        Assert.DoesNotContain("secretSECRET123", e.ToString());
        Assert.DoesNotContain("cred.go", e.Exception.Message);
    }

    [Fact]
    public void OutputThatIsNotAnExecCredentialIsInvalidOutput()
    {
        if (OperatingSystem.IsWindows()) return;
        var empty = Script("silent", "exit 0");
        AssertError(Connect(Kubeconfig(Exec(empty), "k1")), "KubeconfigExecInvalidOutput", ErrorCategory.InvalidData);
        var noToken = Script("no-token", """printf '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{}}'""");
        AssertError(Connect(Kubeconfig(Exec(noToken), "k2")), "KubeconfigExecInvalidOutput", ErrorCategory.InvalidData);
    }

    [Fact]
    public void BrokenKubeconfigsAreOneClearError()
    {
        var yaml = Path.Combine(_dir, "bad-yaml");
        File.WriteAllText(yaml, "apiVersion: v1\nclusters: [\n  - name: x\n");
        var e = AssertError(Connect(yaml), "KubeconfigInvalid", ErrorCategory.InvalidData);
        Assert.Contains("line", e.Exception.Message);

        var ca = Kubeconfig("    token: abc", "bad-ca");
        File.WriteAllText(ca, File.ReadAllText(ca).Replace(_sim.CaCertificateData, "!!not-base64!!"));
        AssertError(Connect(ca), "KubeconfigInvalid", ErrorCategory.InvalidData);

        var noContext = Path.Combine(_dir, "no-context");
        File.WriteAllText(noContext, "apiVersion: v1\nkind: Config\ncurrent-context: gone\ncontexts: []\n");
        AssertError(Connect(noContext), "KubeContextNotFound", ErrorCategory.ObjectNotFound);

        var noUser = Kubeconfig("    token: abc", "no-user");
        File.WriteAllText(noUser, File.ReadAllText(noUser).Replace("    user: me\n", "    user: nobody\n"));
        var missing = Connect(noUser);
        // a context whose user is not defined: kubectl treats it as anonymous; so does the client (the sandbox answers 401)
        if (missing is ErrorRecord r) Assert.DoesNotContain("   at ", r.Exception.Message);

        AssertError(Connect(Path.Combine(_dir, "absent")), "KubeconfigNotFound", ErrorCategory.ObjectNotFound);
    }

    /// <summary>gke-gcloud-auth-plugin whose gcloud has no account (an empty gcloud configuration folder): GcloudNotAuthenticated with its fixes.</summary>
    [GkeAuthPluginFact]
    public void GkePluginWithoutAGcloudAccountSaysHowToLogIn()
    {
        var gcloudConfig = Directory.CreateDirectory(Path.Combine(_dir, "gcloud-empty")).FullName;
        var e = AssertError(Connect(Kubeconfig(Exec("gke-gcloud-auth-plugin", "CLOUDSDK_CONFIG=" + gcloudConfig))), "GcloudNotAuthenticated", ErrorCategory.AuthenticationError);
        Assert.Contains("active account", e.Exception.Message);
        Assert.Contains("gcloud auth login", Fix(e));
        Assert.Contains("-AuthMode Token", Fix(e));
        Assert.Contains("-UseApplicationDefaultCredentials", Fix(e));
    }
}

/// <summary>Needs gke-gcloud-auth-plugin and gcloud on PATH (Google's google-cloud-cli packages); skipped with that reason otherwise.</summary>
public sealed class GkeAuthPluginFactAttribute : FactAttribute
{
    public static bool Available =>
        Engine.Kube.ClusterConnector.FindExecPlugin("gke-gcloud-auth-plugin") is not null && Engine.Kube.ClusterConnector.FindExecPlugin("gcloud") is not null;

    public GkeAuthPluginFactAttribute()
    {
        if (!Available) Skip = "gke-gcloud-auth-plugin and gcloud are not on PATH (install google-cloud-cli and google-cloud-cli-gke-gcloud-auth-plugin)";
    }
}
