using System.Collections.Concurrent;
using System.ComponentModel;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using k8s.Authentication;
using k8s.KubeConfigModels;

namespace RhaiiGke.Engine.Kube;

/// <summary>
/// A kubeconfig user's exec credential plugin (client.authentication.k8s.io ExecCredential), run as kubectl runs it:
/// the kubeconfig's command, args and env, KUBERNETES_EXEC_INFO (with the cluster when provideClusterInfo), no
/// stdin, a bounded run time. Its token is cached until shortly before status.expirationTimestamp. Every failure
/// is one <see cref="RhaiiException"/> naming the plugin and what it said (not found with its install hint,
/// gcloud without an account, a non-zero exit, output that is not an ExecCredential, a timeout); the token is
/// never part of an error.
/// </summary>
internal sealed partial class ExecCredentialPlugin : ITokenProvider
{
    private static readonly ConcurrentDictionary<string, ExecCredentialPlugin> s_plugins = new(StringComparer.Ordinal);
    private readonly ExternalExecution _exec;
    private readonly string? _server;
    private readonly string? _caData;
    private readonly string _userName;
    private readonly string? _kubeconfigDir;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private string? _token;
    private DateTimeOffset _expires;

    private ExecCredentialPlugin(ExternalExecution exec, string userName, string? server, string? caData, string? kubeconfigDir)
    {
        _exec = exec;
        _userName = userName;
        _server = server;
        _caData = caData;
        _kubeconfigDir = kubeconfigDir;
    }

    /// <summary>How long one run of the plugin may take (gcloud can take a few seconds on a loaded machine).</summary>
    public static TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(90);

    /// <summary>The plugin of a kubeconfig user (shared by every connection with the same exec entry and cluster, so it runs once per token lifetime).</summary>
    public static ExecCredentialPlugin For(ExternalExecution exec, string userName, string? server, string? caData, string? kubeconfigDir)
    {
        var key = JsonSerializer.Serialize(new object?[]
        {
            exec.Command, exec.Arguments, exec.EnvironmentVariables, exec.ApiVersion, exec.ProvideClusterInfo, server, caData, kubeconfigDir,
        });
        return s_plugins.GetOrAdd(key, _ => new ExecCredentialPlugin(exec, userName, server, caData, kubeconfigDir));
    }

    public string Command => _exec.Command;

    public async Task<AuthenticationHeaderValue> GetAuthenticationHeaderAsync(CancellationToken cancellationToken) =>
        new("Bearer", await GetTokenAsync(cancellationToken).ConfigureAwait(false));

    /// <summary>The plugin's token: cached while more than a minute of its lifetime is left, else a new run.</summary>
    public async Task<string> GetTokenAsync(CancellationToken ct)
    {
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (_token is not null && DateTimeOffset.UtcNow < _expires - TimeSpan.FromMinutes(1)) return _token;
            var (token, expires) = await RunAsync(ct).ConfigureAwait(false);
            _token = token;
            _expires = expires ?? DateTimeOffset.UtcNow.AddMinutes(5);
            return token;
        }
        finally { _gate.Release(); }
    }

    /// <summary>
    /// Drops the cached token when it is <paramref name="rejected"/> (the one a 401 answered), so the next request runs
    /// the plugin again; false when there is nothing to re-run for (no such token cached: another request already
    /// dropped it and a newer token is in place, which the caller may still retry with).
    /// </summary>
    public bool Invalidate(string? rejected)
    {
        if (rejected is null) return false;
        var current = Volatile.Read(ref _token);
        if (current == rejected) { Interlocked.CompareExchange(ref _token, null, current); return true; }
        return current is not null; // a newer token than the rejected one is in place: worth one retry
    }

    /// <summary>The command as the OS will run it: a bare name is looked up on PATH, a relative path is relative to the kubeconfig's folder (as client-go does).</summary>
    internal string? ResolveCommand() => Resolve(_exec.Command, _kubeconfigDir);

    /// <summary>Where <paramref name="cmd"/> runs from: a bare name on PATH, a relative path under <paramref name="baseDir"/>; null when absent.</summary>
    internal static string? Resolve(string cmd, string? baseDir)
    {
        if (string.IsNullOrWhiteSpace(cmd)) return null;
        if (Path.IsPathRooted(cmd)) return File.Exists(cmd) ? cmd : null;
        if (cmd.Contains('/') || cmd.Contains(Path.DirectorySeparatorChar))
        {
            var rel = Path.GetFullPath(Path.Combine(baseDir ?? Environment.CurrentDirectory, cmd));
            return File.Exists(rel) ? rel : null;
        }
        var exts = OperatingSystem.IsWindows() ? (Environment.GetEnvironmentVariable("PATHEXT") ?? ".EXE;.CMD;.BAT").Split(';').Prepend("") : [""];
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
            foreach (var ext in exts)
            {
                var candidate = Path.Combine(dir, cmd + ext);
                if (File.Exists(candidate)) return candidate;
            }
        return null;
    }

    private bool IsGkePlugin => Path.GetFileNameWithoutExtension(_exec.Command).Equals("gke-gcloud-auth-plugin", StringComparison.OrdinalIgnoreCase);

    private const string TokenFix = "Get-TpuClusterCredential -AuthMode Token | Connect-RhaiiCluster connects with an access token held in memory instead.";

    private async Task<(string Token, DateTimeOffset? Expires)> RunAsync(CancellationToken ct)
    {
        var path = ResolveCommand() ?? throw NotFound();
        var psi = new ProcessStartInfo(path)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8, StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var a in _exec.Arguments ?? []) psi.ArgumentList.Add(a);
        foreach (var e in _exec.EnvironmentVariables ?? [])
            if (e.TryGetValue("name", out var n) && !string.IsNullOrEmpty(n)) psi.Environment[n] = e.TryGetValue("value", out var v) ? v : "";
        psi.Environment["KUBERNETES_EXEC_INFO"] = ExecInfo();
        Process p;
        try { p = Process.Start(psi) ?? throw NotFound(); }
        catch (Win32Exception) { throw NotFound(); }
        using (p)
        {
            p.StandardInput.Close();
            var stdout = p.StandardOutput.ReadToEndAsync(ct);
            var stderr = p.StandardError.ReadToEndAsync(ct);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(Timeout);
            try { await p.WaitForExitAsync(timeout.Token).ConfigureAwait(false); }
            catch (OperationCanceledException)
            {
                try { p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
                ct.ThrowIfCancellationRequested();
                throw new RhaiiException("KubeconfigExecTimeout", RhaiiErrorCategory.OperationTimeout,
                    $"The kubeconfig user '{_userName}' runs '{_exec.Command}', which did not answer within {Timeout.TotalSeconds:0} s.",
                    IsGkePlugin ? "Check that 'gcloud auth print-access-token' answers (network, a login prompt); " + TokenFix : $"Check that '{_exec.Command}' runs on its own.", _exec.Command);
            }
            var output = await stdout.ConfigureAwait(false);
            var errors = await stderr.ConfigureAwait(false);
            if (p.ExitCode != 0) throw Failed(p.ExitCode, errors);
            return Parse(output);
        }
    }

    private string ExecInfo()
    {
        var spec = new JsonObject { ["interactive"] = false };
        if (_exec.ProvideClusterInfo && _server is not null)
        {
            var cluster = new JsonObject { ["server"] = _server };
            if (_caData is not null) cluster["certificate-authority-data"] = _caData;
            spec["cluster"] = cluster;
        }
        return new JsonObject
        {
            ["apiVersion"] = string.IsNullOrEmpty(_exec.ApiVersion) ? "client.authentication.k8s.io/v1beta1" : _exec.ApiVersion,
            ["kind"] = "ExecCredential",
            ["spec"] = spec,
        }.ToJsonString();
    }

    private (string, DateTimeOffset?) Parse(string output)
    {
        JsonNode? doc;
        try { doc = JsonNode.Parse(output); }
        catch (JsonException) { doc = null; }
        var token = doc?["status"]?["token"] is JsonValue t && t.TryGetValue<string>(out var s) ? s : null;
        if (doc?["kind"]?.GetValue<string>() != "ExecCredential" || string.IsNullOrEmpty(token))
            throw new RhaiiException("KubeconfigExecInvalidOutput", RhaiiErrorCategory.InvalidData,
                $"The kubeconfig user '{_userName}' runs '{_exec.Command}', whose output is not an ExecCredential with a token ({(output.Trim().Length == 0 ? "it printed nothing" : "not the expected JSON")}).",
                $"Run '{_exec.Command}' on its own to see what it prints; it must print an ExecCredential (client.authentication.k8s.io) with status.token. " + (IsGkePlugin ? TokenFix : ""), _exec.Command);
        DateTimeOffset? expires = doc["status"]?["expirationTimestamp"] is JsonValue x && x.TryGetValue<string>(out var when)
            && DateTimeOffset.TryParse(when, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var e) ? e : null;
        return (token, expires);
    }

    private RhaiiException NotFound()
    {
        var hint = string.IsNullOrWhiteSpace(_exec.InstallHint) ? $"Install '{_exec.Command}' or put it on PATH." : _exec.InstallHint.Trim();
        return new RhaiiException("KubeconfigExecPluginNotFound", RhaiiErrorCategory.ObjectNotFound,
            $"The kubeconfig user '{_userName}' runs '{_exec.Command}' for its credentials, and it is not on PATH.",
            IsGkePlugin ? $"{hint} (the google-cloud-cli-gke-gcloud-auth-plugin package, or 'gcloud components install gke-gcloud-auth-plugin'). Or: {TokenFix}" : hint, _exec.Command);
    }

    private RhaiiException Failed(int code, string stderr)
    {
        var said = Summary(stderr);
        if (IsGkePlugin && (stderr.Contains("do not currently have an active account", StringComparison.OrdinalIgnoreCase)
            || stderr.Contains("gcloud auth login", StringComparison.OrdinalIgnoreCase)
            || stderr.Contains("Reauthentication", StringComparison.OrdinalIgnoreCase)
            || stderr.Contains("could not find default credentials", StringComparison.OrdinalIgnoreCase)))
            return new RhaiiException("GcloudNotAuthenticated", RhaiiErrorCategory.AuthenticationError,
                $"gke-gcloud-auth-plugin could not get a Google access token for '{_userName}': {said}",
                "Log gcloud in: 'gcloud auth login' (or 'gcloud auth activate-service-account --key-file KEY.json'). With Application Default Credentials only, "
                + "Get-TpuClusterCredential -UseApplicationDefaultCredentials writes a context whose plugin uses them. Or: " + TokenFix, _exec.Command);
        return new RhaiiException("KubeconfigExecFailed", RhaiiErrorCategory.AuthenticationError,
            $"The kubeconfig user '{_userName}' runs '{_exec.Command}', which failed (exit code {code}){(said.Length > 0 ? ": " + said : ".")}",
            IsGkePlugin ? "Run 'gcloud auth print-access-token' to see whether gcloud can get a token. Or: " + TokenFix : $"Run '{_exec.Command}' on its own to see why it fails.", _exec.Command);
    }

    /// <summary>What the plugin said, in one line: the meaningful lines of stderr (log prefixes and blank lines dropped), bounded, with anything token-like removed.</summary>
    internal static string Summary(string stderr)
    {
        // gcloud's own error line says it best: "ERROR: (gcloud.config.config-helper) You do not currently have an active account selected."
        var gcloud = GcloudError().Match(stderr);
        if (gcloud.Success) return TokenLike().Replace(gcloud.Groups[1].Value.Trim(), "[redacted]");
        var lines = stderr.Split('\n').Select(l => LogPrefix().Replace(l.Trim(), "")).Where(l => l.Length > 0 && !l.StartsWith('$')).ToList();
        var text = string.Join(" ", lines);
        text = TokenLike().Replace(text, "[redacted]");
        return text.Length > 400 ? text[..400] + "…" : text;
    }

    [GeneratedRegex(@"ERROR: \(gcloud\.[^)]*\)\s*([^\r\n]+)")]
    private static partial Regex GcloudError();

    [GeneratedRegex(@"^[IWEF]\d{4} \d{2}:\d{2}:\d{2}\.\d+\s+\d+ [^\]]+\] ")]
    private static partial Regex LogPrefix();

    [GeneratedRegex(@"(ya29\.[A-Za-z0-9._\-]+|eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*)")]
    private static partial Regex TokenLike();
}
