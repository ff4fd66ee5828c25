using RhaiiGke.Engine.Manifests.Schema;
using Xunit;

namespace RhaiiGke.Tests.Infrastructure;

/// <summary>
/// Finds the upstream schema folder: $RHAII_CRD_SCHEMAS, else shared/crd-schemas beside the checkout
/// (how CI lays it out). Tests that need it are skipped with a reason when it is absent.
/// </summary>
public static class UpstreamSchemas
{
    private static readonly Lazy<string?> s_root = new(Locate);
    private static readonly Lazy<SchemaCatalog?> s_catalog = new(() => s_root.Value is { } r ? SchemaCatalog.Load(r) : null);

    public static string? Root => s_root.Value;
    public static SchemaCatalog Catalog => s_catalog.Value ?? throw new InvalidOperationException("schemas not available");

    private static string? Locate()
    {
        var env = Environment.GetEnvironmentVariable("RHAII_CRD_SCHEMAS");
        if (!string.IsNullOrEmpty(env) && Directory.Exists(env)) return env;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared", "crd-schemas");
            if (Directory.Exists(candidate)) return candidate;
        }
        return null;
    }
}

/// <summary>A fact that runs only where the upstream schemas are present.</summary>
public sealed class SchemaFactAttribute : FactAttribute
{
    public SchemaFactAttribute()
    {
        if (UpstreamSchemas.Root is null)
            Skip = "Upstream schemas not found: set RHAII_CRD_SCHEMAS or place shared/crd-schemas beside the checkout (CI does).";
    }
}
