using RhaiiGke.Engine.Manifests.Schema;
using Xunit;

namespace RhaiiGke.Tests.Infrastructure;

/// <summary>
/// Finds the upstream schema folder: $RHAII_CRD_SCHEMAS when set, else shared/crd-schemas beside the
/// checkout, i.e. in the folder that holds the checkout (CI lays out &lt;root&gt;/main and &lt;root&gt;/shared).
/// Tests that need it are skipped with <see cref="MissingReason"/> when it is absent.
/// </summary>
public static class UpstreamSchemas
{
    private static readonly Lazy<(string? Root, string Reason)> s_located = new(() => Locate(
        Environment.GetEnvironmentVariable("RHAII_CRD_SCHEMAS"), FindCheckout(AppContext.BaseDirectory)));
    private static readonly Lazy<SchemaCatalog?> s_catalog = new(() => s_located.Value.Root is { } r ? SchemaCatalog.Load(r) : null);

    public static string? Root => s_located.Value.Root;
    /// <summary>Why <see cref="Root"/> is null: the skip reason of the tests that need the schemas.</summary>
    public static string MissingReason => s_located.Value.Reason;
    public static SchemaCatalog Catalog => s_catalog.Value ?? throw new InvalidOperationException("schemas not available");

    /// <summary>The checkout: the nearest folder above <paramref name="start"/> that holds RhaiiGke.slnx.</summary>
    public static string? FindCheckout(string start)
    {
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "RhaiiGke.slnx"))) return dir.FullName;
        return null;
    }

    /// <summary>The schema folder from the variable (when set, it alone decides), else beside the checkout; or why there is none.</summary>
    public static (string? Root, string Reason) Locate(string? variable, string? checkout)
    {
        if (!string.IsNullOrEmpty(variable))
            return Directory.Exists(variable)
                ? (variable, "")
                : (null, $"Upstream schemas not found: RHAII_CRD_SCHEMAS is '{variable}', which does not exist.");
        if (checkout is not null && Directory.GetParent(Path.TrimEndingDirectorySeparator(checkout)) is { } parent)
        {
            var beside = Path.Combine(parent.FullName, "shared", "crd-schemas");
            if (Directory.Exists(beside)) return (beside, "");
            return (null, $"Upstream schemas not found: set RHAII_CRD_SCHEMAS or place them at {beside} (shared/crd-schemas beside the checkout, as CI does).");
        }
        return (null, "Upstream schemas not found: set RHAII_CRD_SCHEMAS or place shared/crd-schemas beside the checkout (CI does).");
    }
}

/// <summary>A fact that runs only where the upstream schemas are present.</summary>
public sealed class SchemaFactAttribute : FactAttribute
{
    public SchemaFactAttribute()
    {
        if (UpstreamSchemas.Root is null)
            Skip = UpstreamSchemas.MissingReason;
    }
}
