using System.Management.Automation;
using System.Management.Automation.Runspaces;

namespace RhaiiGke.Tests.Infrastructure;

/// <summary>Runs RhaiiGke cmdlets in a hosted runspace with the module's assembly imported.</summary>
public sealed class PowerShellHost : IDisposable
{
    private readonly Runspace _runspace;

    public PowerShellHost()
    {
        var iss = InitialSessionState.CreateDefault2();
        iss.ImportPSModule(typeof(RhaiiCmdlet).Assembly.Location);
        _runspace = RunspaceFactory.CreateRunspace(iss);
        _runspace.Open();
    }

    public (IReadOnlyList<PSObject> Output, IReadOnlyList<ErrorRecord> Errors) Invoke(string script, IDictionary<string, object?>? variables = null)
    {
        using var ps = PowerShell.Create(_runspace);
        if (variables is not null)
            foreach (var (k, v) in variables) _runspace.SessionStateProxy.SetVariable(k, v);
        ps.AddScript(script);
        var output = ps.Invoke();
        return (output.ToList(), ps.Streams.Error.ToList());
    }

    /// <summary>Runs a script that must not fail; returns its output.</summary>
    public IReadOnlyList<PSObject> Run(string script)
    {
        var (o, e) = Invoke(script);
        if (e.Count > 0) throw new Xunit.Sdk.XunitException("PowerShell errors: " + string.Join("; ", e.Select(x => $"{x.FullyQualifiedErrorId}: {x}")));
        return o;
    }

    /// <summary>The runspace, for tests that run a pipeline asynchronously and stop it (Ctrl+C).</summary>
    public Runspace Runspace => _runspace;

    public void Dispose() => _runspace.Dispose();
}
