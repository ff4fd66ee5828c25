using System.Management.Automation;
using System.Security;
using RhaiiGke.Engine.Kube;

namespace RhaiiGke.Cmdlets.Platform;

/// <summary>Connects to a Kubernetes API server and makes it the session default.</summary>
[Cmdlet(VerbsCommunications.Connect, "RhaiiCluster", DefaultParameterSetName = KubeconfigSet, SupportsShouldProcess = true)]
[OutputType(typeof(ClusterConnection))]
public sealed class ConnectRhaiiClusterCommand : RhaiiCmdlet
{
    private const string KubeconfigSet = "Kubeconfig";
    private const string EndpointSet = "Endpoint";
    private const string ClusterSet = "TpuCluster";
    private const string CredentialSet = "Credential";

    [Parameter(ParameterSetName = KubeconfigSet, Position = 0)]
    [Parameter(ParameterSetName = ClusterSet)]
    public string? Kubeconfig { get; set; }

    /// <summary>
    /// The kubeconfig file from the pipeline, by property name: the KubeconfigPath of Get-TpuClusterCredential's output
    /// (also deserialized, from a job or Import-Clixml) or of a connection. Its Kubeconfig property holds YAML, not a path,
    /// so -Kubeconfig itself does not bind by property name.
    /// </summary>
    [Parameter(ParameterSetName = KubeconfigSet, ValueFromPipelineByPropertyName = true, DontShow = true)]
    public string? KubeconfigPath { get; set; }

    /// <summary>kubeconfig context; from the pipeline by property name (ContextName).</summary>
    [Parameter(ParameterSetName = KubeconfigSet, ValueFromPipelineByPropertyName = true)]
    [Alias("ContextName")]
    public string? Context { get; set; }

    [Parameter(ParameterSetName = EndpointSet, Mandatory = true)]
    [Alias("Server")]
    public Uri? Endpoint { get; set; }

    [Parameter(ParameterSetName = EndpointSet)]
    [Parameter(ParameterSetName = ClusterSet)]
    public SecureString? Token { get; set; }

    [Parameter(ParameterSetName = EndpointSet)]
    [Alias("CaCertificate")]
    public string? CertificateAuthority { get; set; }

    [Parameter(ParameterSetName = EndpointSet)]
    public SwitchParameter SkipTlsVerify { get; set; }

    [Parameter(ParameterSetName = ClusterSet, Mandatory = true, ValueFromPipeline = true)]
    public TpuCluster? TpuCluster { get; set; }

    [Parameter(ParameterSetName = CredentialSet, Mandatory = true, ValueFromPipeline = true)]
    public TpuClusterCredential? Credential { get; set; }

    [Parameter]
    public string? Namespace { get; set; }

    /// <summary>Send the token or kubeconfig credentials over plain http to a non-loopback server (refused otherwise).</summary>
    [Parameter]
    public SwitchParameter AllowUnencryptedAuthentication { get; set; }

    /// <summary>Return the connection without making it the session default.</summary>
    [Parameter]
    public SwitchParameter NoDefault { get; set; }

    protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
    {
        var connection = ParameterSetName switch
        {
            EndpointSet => ClusterConnector.FromEndpoint(Endpoint!, Token, CertificateAuthority, SkipTlsVerify, Namespace),
            ClusterSet when Token is not null => ClusterConnector.FromEndpoint(ClusterUri(TpuCluster!), Token, TpuCluster!.CaCertificate, false, Namespace, TpuCluster.ContextName),
            ClusterSet => ClusterSession.FromTpuCluster(TpuCluster!, Kubeconfig, Namespace),
            CredentialSet => FromCredential(Credential!),
            _ => ClusterConnector.FromKubeconfig(Kubeconfig ?? KubeconfigPath, Context, Namespace),
        };
        connection = ClusterConnector.WithUnencryptedAuthentication(connection, AllowUnencryptedAuthentication);
        ClusterConnector.EnsureCredentialsProtected(connection);
        if (!ShouldProcess(connection.Server, $"Connect to {connection.Name}{(NoDefault ? "" : " and make it the session default")}")) return;
        WriteVerbose($"Checking {connection.Server}");
        var verified = await ClusterConnector.VerifyAsync(connection, cancellationToken);
        if (!NoDefault) ClusterSession.Default = verified;
        WriteObject(verified);
    }

    private ClusterConnection FromCredential(TpuClusterCredential c)
    {
        if (c.AuthMode == ClusterAuthMode.Token && c.Token is not null)
            return ClusterConnector.FromEndpoint(new Uri(c.Server), c.Token, c.CertificateAuthorityData, false, Namespace, c.ContextName);
        if (c.KubeconfigPath is null)
            throw new RhaiiException("ClusterCredentialNotWritten", RhaiiErrorCategory.InvalidArgument,
                $"The credential for {c.ContextName} wrote no kubeconfig (it was run with -WhatIf), so there is no context to connect with.",
                "Run Get-TpuClusterCredential without -WhatIf, or -AuthMode Token for a token in memory.", c);
        return ClusterConnector.FromKubeconfig(c.KubeconfigPath, c.ContextName, Namespace);
    }

    private static Uri ClusterUri(TpuCluster c)
    {
        if (string.IsNullOrEmpty(c.Endpoint))
            throw new RhaiiException("ClusterNotReady", RhaiiErrorCategory.ResourceUnavailable, $"Cluster {c.Name} has no API endpoint yet (status {c.Status}).",
                "Wait for the cluster to be RUNNING (Get-TpuCluster), then connect.", c);
        return new Uri(c.Endpoint.StartsWith("http", StringComparison.OrdinalIgnoreCase) ? c.Endpoint : "https://" + c.Endpoint);
    }
}
