using System.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using k8s;
using k8s.Exceptions;
using RhaiiGke.Engine.Kube.Json;

namespace RhaiiGke.Engine.Kube;

/// <summary>Builds and checks <see cref="ClusterConnection"/>s: from a kubeconfig context, or an endpoint with token and CA.</summary>
public static class ClusterConnector
{
    /// <summary>The kubeconfig files in effect: <paramref name="path"/>, else $KUBECONFIG (several, separated by the path separator), else ~/.kube/config.</summary>
    public static string[] KubeconfigFiles(string? path)
    {
        var value = !string.IsNullOrWhiteSpace(path) ? path : Environment.GetEnvironmentVariable("KUBECONFIG");
        if (string.IsNullOrWhiteSpace(value))
            return [Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".kube", "config")];
        return value.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }

    /// <summary>The full path of a kubeconfig exec plugin command found on PATH (as kubectl looks it up), or null.</summary>
    public static string? FindExecPlugin(string command) => ExecCredentialPlugin.Resolve(command, null);

    /// <summary>A connection from a kubeconfig context (the current context when <paramref name="context"/> is null).</summary>
    public static ClusterConnection FromKubeconfig(string? path, string? context, string? @namespace)
    {
        var files = KubeconfigFiles(path).Where(File.Exists).Select(f => new FileInfo(f)).ToArray();
        if (files.Length == 0)
            throw new RhaiiException("KubeconfigNotFound", RhaiiErrorCategory.ObjectNotFound,
                $"No kubeconfig found at {string.Join(", ", KubeconfigFiles(path))}.",
                "Pass -Kubeconfig, set KUBECONFIG, use Get-TpuClusterCredential for a GKE cluster, or Start-RhaiiSandbox for a local one.", path);
        var (config, file, contextName) = BuildConfig(files, context, path);
        files = [file];
        return new ClusterConnection
        {
            Name = contextName.Length > 0 ? contextName : new Uri(config.Host).Host,
            Server = config.Host.TrimEnd('/'),
            KubeconfigPath = string.Join(Path.PathSeparator, files.Select(f => f.FullName)),
            Context = contextName.Length > 0 ? contextName : null,
            Namespace = @namespace ?? config.Namespace ?? "default",
            AuthKind = ClusterAuthKind.Kubeconfig,
            SkipTlsVerify = config.SkipTlsVerify,
        };
    }

    /// <summary>A connection to an endpoint with an optional bearer token and CA (base64 PEM, PEM text or a file path).</summary>
    public static ClusterConnection FromEndpoint(Uri endpoint, SecureString? token, string? certificateAuthority, bool skipTlsVerify, string? @namespace, string? name = null)
    {
        if (endpoint.Scheme is not ("https" or "http"))
            throw new RhaiiException("InvalidClusterEndpoint", RhaiiErrorCategory.InvalidArgument, $"'{endpoint}' is not an http(s) URL.", "Pass the API server URL, e.g. https://34.1.2.3.", endpoint);
        return new ClusterConnection
        {
            Name = name ?? endpoint.Host,
            Server = endpoint.ToString().TrimEnd('/'),
            Namespace = @namespace ?? "default",
            AuthKind = token is null ? ClusterAuthKind.None : ClusterAuthKind.Token,
            Token = token,
            CertificateAuthorityData = NormalizeCa(certificateAuthority),
            SkipTlsVerify = skipTlsVerify,
        };
    }

    /// <summary>The first kubeconfig file that has <paramref name="context"/> (or the first file when no context is asked for).</summary>
    private static (k8s.KubeConfigModels.K8SConfiguration Config, FileInfo File) Load(FileInfo[] files, string? context)
    {
        // KubernetesClient's deserializer recurses and expands aliases: bound the files before it reads them
        foreach (var f in files) Manifests.YamlLimits.CheckFile(f.FullName);
        foreach (var f in files)
        {
            var cfg = KubernetesClientConfiguration.LoadKubeConfig(f);
            if (context is null || cfg.Contexts?.Any(c => c.Name == context) == true) return (cfg, f);
        }
        return (KubernetesClientConfiguration.LoadKubeConfig(files[0]), files[0]);
    }

    /// <summary>
    /// The client configuration of a kubeconfig context. Every problem is one <see cref="RhaiiException"/> with a fix
    /// (KubeconfigInvalid, KubeContextNotFound, KubeconfigUnreadable, or the exec plugin's own errors), never a parser's
    /// or the client library's exception. An exec user's plugin runs here (once per token lifetime, see
    /// <see cref="ExecCredentialPlugin"/>), so a plugin that cannot give a token fails the connection with what it said.
    /// </summary>
    private static (KubernetesClientConfiguration Config, FileInfo File, string Context) BuildConfig(FileInfo[] files, string? context, string? path)
    {
        var where = string.Join(", ", files.Select(f => f.FullName));
        try
        {
            var (k8sConfig, file) = Load(files, context);
            var contextName = context ?? k8sConfig.CurrentContext ?? "";
            if (!string.IsNullOrEmpty(context) && k8sConfig.Contexts?.Any(c => c.Name == context) != true)
                throw new RhaiiException("KubeContextNotFound", RhaiiErrorCategory.ObjectNotFound,
                    $"Context '{context}' is not in {where}. Contexts: {string.Join(", ", files.SelectMany(f => KubernetesClientConfiguration.LoadKubeConfig(f).Contexts?.Select(c => c.Name) ?? []))}.",
                    "Pass one of the listed contexts to -Context, or write this one first (Get-TpuClusterCredential for a GKE cluster).", context);
            var ctx = contextName.Length == 0 ? null : k8sConfig.Contexts?.FirstOrDefault(c => c.Name == contextName)
                ?? throw new RhaiiException("KubeContextNotFound", RhaiiErrorCategory.ObjectNotFound, $"The current context '{contextName}' of {file.FullName} is not defined in it.",
                    "Pass -Context with a context the file defines, or fix current-context (kubectl config use-context NAME).", contextName);
            var user = ctx?.ContextDetails?.User is { Length: > 0 } userName ? k8sConfig.Users?.FirstOrDefault(u => u.Name == userName) : null;
            var cluster = ctx?.ContextDetails?.Cluster is { Length: > 0 } clusterName ? k8sConfig.Clusters?.FirstOrDefault(c => c.Name == clusterName) : null;
            ExecCredentialPlugin? plugin = null;
            if (user?.UserCredentials?.ExternalExecution is { } exec)
            {
                // run the plugin ourselves (captured output, errors with a fix) and hand the client its token
                plugin = ExecCredentialPlugin.For(exec, user.Name, cluster?.ClusterEndpoint?.Server, cluster?.ClusterEndpoint?.CertificateAuthorityData, file.DirectoryName);
                var token = plugin.GetTokenAsync(CancellationToken.None).GetAwaiter().GetResult();
                user.UserCredentials.ExternalExecution = null;
                user.UserCredentials.Token = token;
            }
            var config = KubernetesClientConfiguration.BuildConfigFromConfigObject(k8sConfig, contextName.Length == 0 ? null : contextName);
            if (plugin is not null) config.TokenProvider = plugin;
            return (config, file, contextName);
        }
        catch (RhaiiException) { throw; }
        catch (KubeConfigException ex) { throw Invalid(ex.Message, path ?? where, ex); }
        catch (YamlDotNet.Core.YamlException ex) { throw Invalid($"{ex.Message} (line {ex.Start.Line}, column {ex.Start.Column})", path ?? where, ex); }
        catch (Exception ex) when (ex is UnauthorizedAccessException or IOException)
        {
            throw new RhaiiException("KubeconfigUnreadable", RhaiiErrorCategory.PermissionDenied, $"Cannot read the kubeconfig {where}: {FirstLine(ex.Message)}",
                "Check the file's permissions (it should be readable by you only: chmod 600) and that it is a file.", path ?? where, ex);
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException or InvalidOperationException or System.Security.Cryptography.CryptographicException
            or UriFormatException or NullReferenceException or System.Text.Json.JsonException)
        {
            throw Invalid(ex.Message, path ?? where, ex);
        }

        static RhaiiException Invalid(string message, string target, Exception ex) =>
            new("KubeconfigInvalid", RhaiiErrorCategory.InvalidData, $"The kubeconfig cannot be used: {FirstLine(message)}",
                "Check it with 'kubectl config view --minify' (server, certificate-authority-data, user), or write the context again (Get-TpuClusterCredential for a GKE cluster).", target, ex);
    }

    /// <summary>The first line of a message, without an inner exception's stack trace.</summary>
    private static string FirstLine(string message)
    {
        var line = message.Split('\n')[0].Trim();
        var inner = line.IndexOf(" ---> ", StringComparison.Ordinal);
        return inner > 0 ? line[..inner] : line;
    }

    /// <summary>Base64 PEM from base64 PEM, PEM text or a path to a PEM file.</summary>
    internal static string? NormalizeCa(string? ca)
    {
        if (string.IsNullOrWhiteSpace(ca)) return null;
        if (ca.Contains("-----BEGIN", StringComparison.Ordinal)) return Convert.ToBase64String(Encoding.UTF8.GetBytes(ca));
        if (File.Exists(ca)) return Convert.ToBase64String(File.ReadAllBytes(ca));
        try
        {
            var text = Encoding.UTF8.GetString(Convert.FromBase64String(ca));
            if (text.Contains("-----BEGIN", StringComparison.Ordinal)) return ca;
        }
        catch (FormatException) { }
        throw new RhaiiException("InvalidCertificateAuthority", RhaiiErrorCategory.InvalidArgument,
            "The certificate authority is neither a PEM file, PEM text nor base64 PEM.", "Pass the cluster CA as a file path or as TpuCluster.CaCertificate (base64 PEM).");
    }

    internal static KubernetesClientConfiguration ToConfig(ClusterConnection c)
    {
        if (c.AuthKind == ClusterAuthKind.Kubeconfig && c.KubeconfigPath is not null)
        {
            var files = c.KubeconfigPath.Split(Path.PathSeparator).Where(File.Exists).Select(f => new FileInfo(f)).ToArray();
            if (files.Length == 0)
                throw new RhaiiException("KubeconfigNotFound", RhaiiErrorCategory.ObjectNotFound,
                    $"The kubeconfig of connection {c.Name} ({c.KubeconfigPath}) no longer exists.", "Connect again: Connect-RhaiiCluster, or Get-TpuClusterCredential | Connect-RhaiiCluster for a GKE cluster.", c.KubeconfigPath);
            return BuildConfig(files, c.Context, c.KubeconfigPath).Config;
        }
        var config = new KubernetesClientConfiguration { Host = c.Server, SkipTlsVerify = c.SkipTlsVerify, Namespace = c.Namespace };
        if (c.Token is not null) config.AccessToken = KubeClient.SecureToString(c.Token);
        if (c.CertificateAuthorityData is { } ca)
        {
            var certs = new X509Certificate2Collection();
            certs.ImportFromPem(Encoding.UTF8.GetString(Convert.FromBase64String(ca)));
            config.SslCaCerts = certs;
        }
        return config;
    }

    /// <summary>The same connection, allowed (or not) to send its credentials over plain http to a non-loopback server.</summary>
    public static ClusterConnection WithUnencryptedAuthentication(ClusterConnection c, bool allow) => c.AllowUnencryptedAuthentication == allow ? c : new ClusterConnection
    {
        Name = c.Name, Server = c.Server, KubeconfigPath = c.KubeconfigPath, Context = c.Context, Namespace = c.Namespace, AuthKind = c.AuthKind,
        Token = c.Token, CertificateAuthorityData = c.CertificateAuthorityData, SkipTlsVerify = c.SkipTlsVerify, IsSandbox = c.IsSandbox,
        ServerVersion = c.ServerVersion, ConnectedAt = c.ConnectedAt, AllowUnencryptedAuthentication = allow,
    };

    /// <summary>
    /// Refuses (UnencryptedAuthenticationRefused) a connection that would send a bearer token, an exec
    /// plugin's token or a password over plain http to a non-loopback server, unless it was opted in.
    /// Nothing is sent; the kube client checks the same on every request.
    /// </summary>
    public static void EnsureCredentialsProtected(ClusterConnection c)
    {
        if (c.AllowUnencryptedAuthentication || !Uri.TryCreate(c.Server, UriKind.Absolute, out var uri) || !RhaiiGke.Engine.Net.TransportSecurity.IsExposed(uri)) return;
        string? what = null;
        if (c.Token is { Length: > 0 }) what = "the bearer token";
        else if (c.AuthKind == ClusterAuthKind.Kubeconfig)
        {
            var cfg = ToConfig(c);
            if (!string.IsNullOrEmpty(cfg.AccessToken) || cfg.TokenProvider is not null) what = "the kubeconfig user's bearer token";
            else if (!string.IsNullOrEmpty(cfg.Password)) what = "the kubeconfig user's password";
        }
        if (what is not null) RhaiiGke.Engine.Net.TransportSecurity.EnsureAllowed(uri, what, false);
    }

    /// <summary>The TLS authentication error behind a failed request (certificate rejected, handshake failed), or null.</summary>
    internal static System.Security.Authentication.AuthenticationException? TlsFailure(Exception e)
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
            if (x is System.Security.Authentication.AuthenticationException a) return a;
        return null;
    }

    /// <summary>Checks the connection with GET /version; returns it with <see cref="ClusterConnection.ServerVersion"/> filled.</summary>
    public static async Task<ClusterConnection> VerifyAsync(ClusterConnection c, CancellationToken ct)
    {
        var client = KubeClients.For(c);
        try
        {
            var v = await client.SendAsync(HttpMethod.Get, "/version", null, null, ct).ConfigureAwait(false);
            var verified = new ClusterConnection
            {
                Name = c.Name, Server = c.Server, KubeconfigPath = c.KubeconfigPath, Context = c.Context, Namespace = c.Namespace, AuthKind = c.AuthKind,
                Token = c.Token, CertificateAuthorityData = c.CertificateAuthorityData, SkipTlsVerify = c.SkipTlsVerify, IsSandbox = c.IsSandbox,
                ServerVersion = v.Str("gitVersion"), AllowUnencryptedAuthentication = c.AllowUnencryptedAuthentication,
            };
            return verified;
        }
        catch (KubeApiException e) { throw e.ToRhaii($"Connecting to {c.Server}", c.Server); }
        catch (HttpRequestException e) when (TlsFailure(e) is { } tls)
        {
            throw new RhaiiException("KubeApiTlsFailed", RhaiiErrorCategory.SecurityError,
                $"The TLS connection to the Kubernetes API at {c.Server} failed: {tls.Message} The server's certificate is not signed by the CA this connection trusts ({(c.CertificateAuthorityData is not null || c.AuthKind == ClusterAuthKind.Kubeconfig ? "the cluster CA given" : "no CA given: the system trust store")}), or does not name this host.",
                "Use the CA of this cluster: the kubeconfig's certificate-authority-data, -CertificateAuthority, or the cluster's masterAuth.clusterCaCertificate (Get-TpuClusterCredential). Only for a throw-away test cluster: -SkipTlsVerify.",
                c.Server, e);
        }
        catch (KubeTransportException e)
        {
            throw Net.TransportFailure.ToRhaii(e.Kind, e, "Cluster", "the Kubernetes API", c.Server, "Connecting",
                "Check the endpoint and your network (for GKE: authorized networks, a running cluster); for a sandbox, Start-RhaiiSandbox again.", c.Server);
        }
        catch (HttpRequestException e)
        {
            throw new RhaiiException("ClusterUnreachable", RhaiiErrorCategory.ConnectionError, $"Cannot reach the Kubernetes API at {c.Server}: {e.Message}",
                "Check the endpoint and your network (for GKE: authorized networks, a running cluster); for a sandbox, Start-RhaiiSandbox again.", c.Server, e);
        }
        catch (TaskCanceledException e) when (!ct.IsCancellationRequested)
        {
            throw new RhaiiException("ClusterTimeout", RhaiiErrorCategory.OperationTimeout, $"The Kubernetes API at {c.Server} did not answer in time.",
                "Check the endpoint and your network.", c.Server, e);
        }
    }
}
