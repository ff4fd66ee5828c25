namespace RhaiiGke.Engine.Gke;

/// <summary>
/// Base URLs of the Google APIs RhaiiGke calls. Each comes from the option, else an environment variable,
/// else the public endpoint. Plain http is accepted only for loopback hosts (simulators), so a token never
/// crosses a network in clear text.
/// </summary>
public sealed class GkeEndpoints
{
    public const string ContainerVariable = "RHAII_GKE_ENDPOINT";
    public const string ComputeVariable = "RHAII_COMPUTE_ENDPOINT";
    public const string ServiceUsageVariable = "RHAII_SERVICEUSAGE_ENDPOINT";
    public const string PollIntervalVariable = "RHAII_GKE_POLL_INTERVAL";

    public const string DefaultContainer = "https://container.googleapis.com/";
    public const string DefaultCompute = "https://compute.googleapis.com/compute/v1/";
    public const string DefaultServiceUsage = "https://serviceusage.googleapis.com/";

    public GkeEndpoints(Uri container, Uri compute, Uri serviceUsage)
    {
        Container = container;
        Compute = compute;
        ServiceUsage = serviceUsage;
    }

    /// <summary>GKE API base; requests go to <c>v1/projects/...</c> under it.</summary>
    public Uri Container { get; }
    /// <summary>Compute Engine API base including <c>compute/v1/</c>.</summary>
    public Uri Compute { get; }
    public Uri ServiceUsage { get; }

    /// <summary>True when the GKE endpoint is on this machine (a simulator): polls and retries are then fast.</summary>
    public bool AllLoopback => Container.IsLoopback;

    public static GkeEndpoints Resolve(GkeConnectionOptions options, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        return new GkeEndpoints(
            Parse(options.ContainerEndpoint ?? environment(ContainerVariable) ?? DefaultContainer, "Endpoint", ContainerVariable),
            Parse(options.ComputeEndpoint ?? environment(ComputeVariable) ?? DefaultCompute, "ComputeEndpoint", ComputeVariable),
            Parse(options.ServiceUsageEndpoint ?? environment(ServiceUsageVariable) ?? DefaultServiceUsage, "ServiceUsageEndpoint", ServiceUsageVariable));
    }

    /// <summary>Validates an endpoint URL and gives it a trailing slash.</summary>
    public static Uri Parse(string value, string parameter, string variable)
    {
        var text = value.Trim();
        if (!text.EndsWith('/')) text += "/";
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp))
            throw new RhaiiException("InvalidGoogleEndpoint", RhaiiErrorCategory.InvalidArgument,
                $"'{value}' is not an http(s) URL (from -{parameter} or {variable}).",
                $"Pass an absolute URL such as {DefaultContainer}, or unset {variable}.", value);
        if (uri.Scheme == Uri.UriSchemeHttp && !uri.IsLoopback)
            throw new RhaiiException("InsecureGoogleEndpoint", RhaiiErrorCategory.SecurityError,
                $"Refusing plain http to '{uri.Host}': access tokens would travel unencrypted. Plain http is only allowed for loopback simulators.",
                "Use an https endpoint.", value);
        return uri;
    }

    /// <summary>Poll interval: the option, else RHAII_GKE_POLL_INTERVAL (seconds), else 0.1 s for a loopback GKE endpoint and 5 s otherwise.</summary>
    public TimeSpan PollInterval(GkeConnectionOptions options, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        if (options.PollInterval is { } p && p > TimeSpan.Zero) return p;
        if (double.TryParse(environment(PollIntervalVariable), System.Globalization.NumberStyles.Float,
                System.Globalization.CultureInfo.InvariantCulture, out var s) && s > 0)
            return TimeSpan.FromSeconds(s);
        return AllLoopback ? TimeSpan.FromMilliseconds(100) : TimeSpan.FromSeconds(5);
    }
}
