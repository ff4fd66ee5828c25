using System.Runtime.CompilerServices;

namespace RhaiiGke.Tests.Infrastructure;

/// <summary>
/// Every test run gets its own kubeconfig: commands that write the default kubeconfig (Get-TpuClusterCredential without
/// -Path, Start-RhaiiSandbox contexts) must never touch ~/.kube/config, which two suites running at the same time on one
/// machine would share (same context names, different sandbox ports: one run would connect to the other's servers).
/// </summary>
internal static class TestRunIsolation
{
    public static string RunDirectory { get; private set; } = "";

    [ModuleInitializer]
    internal static void Initialize()
    {
        RunDirectory = Directory.CreateTempSubdirectory($"rhaii-tests-{Environment.ProcessId}-").FullName;
        Environment.SetEnvironmentVariable("KUBECONFIG", Path.Combine(RunDirectory, "kubeconfig"));
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { Directory.Delete(RunDirectory, true); } catch (Exception) { }
        };
    }
}
