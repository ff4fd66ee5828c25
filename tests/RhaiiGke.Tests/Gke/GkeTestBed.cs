using System.Net;
using System.Security;
using RhaiiGke.Engine.Gke;
using RhaiiGke.Sandbox.Gke;

namespace RhaiiGke.Tests.Gke;

/// <summary>A GKE API simulator with short operations and a session that talks to it with a static token.</summary>
public sealed class GkeTestBed : IDisposable
{
    public const string Project = "rhaii-test";
    public const string Zone = "europe-west4-a";

    public GkeTestBed(TimeSpan? operationDuration = null, Action<GkeApiSimulatorOptions>? configure = null)
    {
        var options = new GkeApiSimulatorOptions { OperationDuration = operationDuration ?? TimeSpan.FromMilliseconds(60) };
        configure?.Invoke(options);
        Simulator = new GkeApiSimulator(options);
        Token = Simulator.IssueToken();
        Log = new RecordingLog();
    }

    public GkeApiSimulator Simulator { get; }
    public string Token { get; }
    public RecordingLog Log { get; }

    public GkeConnectionOptions Connection(string? project = Project) => new()
    {
        Project = project,
        AccessToken = Secure(Token),
        ContainerEndpoint = Simulator.ContainerEndpoint,
        ComputeEndpoint = Simulator.ComputeEndpoint,
        ServiceUsageEndpoint = Simulator.ServiceUsageEndpoint,
        PollInterval = TimeSpan.FromMilliseconds(20),
        BusyRetryTimeout = TimeSpan.FromMinutes(2),
        OperationTimeout = TimeSpan.FromMinutes(3),
    };

    public GkeSession Session(string? project = Project) => GkeSession.Open(Connection(project), Log, _ => null);

    public static SecureString Secure(string s) => new NetworkCredential("", s).SecurePassword;

    public static TpuClusterSpec Spec(string name = "demo", string zone = Zone) => new()
    {
        Name = name,
        Project = Project,
        Zone = zone,
        Accelerator = "v6e",
        Topology = "2x2",
        InitialNodeCount = 1,
        MinNodes = 0,
        MaxNodes = 2,
        SystemNodeCount = 1,
        Labels = { ["team"] = "platform" },
    };

    public void Dispose() => Simulator.Dispose();
}

/// <summary>An IRhaiiLog that keeps every line, to assert on messages and on the absence of secrets.</summary>
public sealed class RecordingLog : IRhaiiLog
{
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _lines = new();
    public IReadOnlyList<string> Lines => _lines.ToArray();
    public string All => string.Join("\n", _lines);
    public void Verbose(string message) => _lines.Enqueue("V " + message);
    public void Debug(string message) => _lines.Enqueue("D " + message);
    public void Warning(string message) => _lines.Enqueue("W " + message);
    public void Progress(string activity, string status, int percent) => _lines.Enqueue($"P {activity}: {status} {percent}");
}
