using System.Management.Automation;
using System.Reflection;
using System.Runtime.Loader;

namespace RhaiiGke.Loading;

/// <summary>
/// Holds RhaiiGke.Engine and every third-party assembly (KubernetesClient, YamlDotNet, Google.Apis,
/// ...) from the module's Dependencies folder, so they never clash with what other modules or
/// $PSHOME loaded into the default context. Models stays in the default context for type identity.
/// </summary>
internal sealed class RhaiiLoadContext : AssemblyLoadContext
{
    private readonly string _dependencies;
    private readonly string _psHome;

    public RhaiiLoadContext(string dependencies) : base("RhaiiGke", isCollectible: false)
    {
        _dependencies = dependencies;
        _psHome = Path.GetDirectoryName(typeof(PSObject).Assembly.Location) ?? "";
    }

    protected override Assembly? Load(AssemblyName name)
    {
        // Shared contract assemblies must be the default context's copy.
        if (name.Name is "RhaiiGke" or "RhaiiGke.Models" || name.Name!.StartsWith("System.Management.Automation", StringComparison.Ordinal))
            return null;
        var path = Path.Combine(_dependencies, name.Name + ".dll");
        if (!File.Exists(path)) return null;

        // PowerShell Editor Services' refinement: when $PSHOME ships the same assembly at an equal or
        // higher version with the same identity, share that copy (e.g. Newtonsoft.Json).
        var psHomeCopy = Path.Combine(_psHome, name.Name + ".dll");
        if (File.Exists(psHomeCopy))
        {
            try
            {
                var shipped = AssemblyName.GetAssemblyName(psHomeCopy);
                var ours = AssemblyName.GetAssemblyName(path);
                if (shipped.Version >= ours.Version && SameToken(shipped, ours)) return null;
            }
            catch (BadImageFormatException) { }
        }
        return LoadFromAssemblyPath(path);
    }

    protected override IntPtr LoadUnmanagedDll(string unmanagedDllName)
    {
        var path = Path.Combine(_dependencies, unmanagedDllName);
        return File.Exists(path) ? LoadUnmanagedDllFromPath(path) : IntPtr.Zero;
    }

    private static bool SameToken(AssemblyName a, AssemblyName b) =>
        (a.GetPublicKeyToken() ?? []).AsSpan().SequenceEqual(b.GetPublicKeyToken() ?? []);
}

/// <summary>Hooks the default context so that RhaiiGke.Engine and RhaiiGke.Sandbox resolve into <see cref="RhaiiLoadContext"/>.</summary>
public sealed class ModuleInitializer : IModuleAssemblyInitializer, IModuleAssemblyCleanup
{
    private static readonly string s_dependencies =
        Path.Combine(Path.GetDirectoryName(typeof(ModuleInitializer).Assembly.Location)!, "Dependencies");

    private static readonly Lazy<RhaiiLoadContext> s_alc = new(() => new RhaiiLoadContext(s_dependencies));

    /// <summary>The isolated context, or null when the module runs from a flat build folder (tests).</summary>
    internal static AssemblyLoadContext? LoadContext => Directory.Exists(s_dependencies) ? s_alc.Value : null;

    public void OnImport()
    {
        // Load Models into the default context now, so the isolated context's fallback finds it there.
        _ = typeof(RhaiiException).Assembly;
        if (!Directory.Exists(s_dependencies)) return; // flat layout: everything is beside the module
        AssemblyLoadContext.Default.Resolving -= ResolveEngine;
        AssemblyLoadContext.Default.Resolving += ResolveEngine;
    }

    public void OnRemove(PSModuleInfo psModuleInfo) => AssemblyLoadContext.Default.Resolving -= ResolveEngine;

    private static Assembly? ResolveEngine(AssemblyLoadContext context, AssemblyName name)
    {
        // RhaiiGke.Sandbox (the simulators) resolves the same way, when a sandbox or simulator first starts.
        if (name.Name is not ("RhaiiGke.Engine" or "RhaiiGke.Sandbox")) return null;
        return s_alc.Value.LoadFromAssemblyPath(Path.Combine(s_dependencies, name.Name + ".dll"));
    }
}
