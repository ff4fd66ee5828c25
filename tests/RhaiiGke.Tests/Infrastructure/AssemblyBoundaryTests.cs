using System.Reflection;
using RhaiiGke.Sandbox.KubeApi;
using Xunit;

namespace RhaiiGke.Tests.Infrastructure;

/// <summary>
/// The simulators are an oracle for the module's clients: RhaiiGke.Sandbox must not reference
/// RhaiiGke.Engine (no shared HTTP, JSON or YAML code), and Engine must not reference the Sandbox.
/// </summary>
public class AssemblyBoundaryTests
{
    private static readonly Assembly Sandbox = typeof(KubeApiSimulator).Assembly;
    private static readonly Assembly Engine = typeof(RhaiiGke.Engine.Kube.KubeClient).Assembly;

    private static string[] References(Assembly a) => a.GetReferencedAssemblies().Select(n => n.Name!).ToArray();

    [Fact]
    public void SandboxDoesNotReferenceEngine()
    {
        Assert.Equal("RhaiiGke.Sandbox", Sandbox.GetName().Name);
        Assert.DoesNotContain("RhaiiGke.Engine", References(Sandbox));
        Assert.Contains("RhaiiGke.Models", References(Sandbox)); // the contract types it may share
    }

    [Fact]
    public void EngineDoesNotReferenceSandbox()
    {
        Assert.Equal("RhaiiGke.Engine", Engine.GetName().Name);
        Assert.DoesNotContain("RhaiiGke.Sandbox", References(Engine));
    }

    [Fact]
    public void EngineGrantsTheSandboxNoInternals()
    {
        var friends = Engine.GetCustomAttributes<System.Runtime.CompilerServices.InternalsVisibleToAttribute>().Select(a => a.AssemblyName);
        Assert.DoesNotContain(friends, f => f.StartsWith("RhaiiGke.Sandbox", StringComparison.Ordinal));
    }
}
