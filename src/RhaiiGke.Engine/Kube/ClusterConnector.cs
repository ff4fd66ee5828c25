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

    /// <summary>A connection from a kubeconfig context (the current context when <paramref name="context"/> is null).</summary>
    public static ClusterConnection FromKubeconfig(string? path, string? context, string? @namespace)
    {
        var files = KubeconfigFiles(path).Where(File.Exists).Select(f => new FileInfo(f)).ToArray();
        if (files.Length == 0)
            throw new RhaiiException("KubeconfigNotFound", RhaiiErrorCategory.ObjectNotFound,
                $"No kubeconfig found at {string.Join(", ", KubeconfigFiles(path))}.",
                "Pass -Kubeconfig, set KUBECONFIG, use Get-TpuClusterCredential for a GKE cluster, or Start-RhaiiSandbox for a local one.", path);
        KubernetesClientConfiguration config;
        string contextName;
        try
        {
            var (k8sConfig, file) = Load(files, context);
            contextName = context ?? k8sConfig.CurrentContext ?? "";
            if (!string.IsNullOrEmpty(context) && k8sConfig.Contexts?.Any(c => c.Name == context) != true)
                throw new RhaiiException("KubeContextNotFound", RhaiiErrorCategory.ObjectNotFound,
                    $"Context '{context}' is not in {string.Join(", ", files.Select(f => f.FullName))}. Contexts: {string.Join(", ", files.SelectMany(f => KubernetesClientConfiguration.LoadKubeConfig(f).Contexts?.Select(c => c.Name) ?? []))}.",
                    "Pass one of the listed contexts to -Context.", context);
            config = KubernetesClientConfiguration.BuildConfigFromConfigObject(k8sConfig, context);
            files = [file];
        }
        catch (KubeConfigException ex)
        {
            throw new RhaiiException("KubeconfigInvalid", RhaiiErrorCategory.InvalidData, $"The kubeconfig cannot be used: {ex.Message}",
                "Check the file with 'kubectl config view', or pass -Context.", path, ex);
        }
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
            var (k8sConfig, _) = Load(files, c.Context);
            var cfg = KubernetesClientConfiguration.BuildConfigFromConfigObject(k8sConfig, c.Context);
            return cfg;
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
