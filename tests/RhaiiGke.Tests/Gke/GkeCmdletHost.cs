using System.Management.Automation;
using System.Management.Automation.Runspaces;
using Xunit;

namespace RhaiiGke.Tests.Gke;

/// <summary>The GKE cmdlet tests share process-wide state (environment, session defaults), so they do not run in parallel with each other.</summary>
[CollectionDefinition("GkeCmdlets", DisableParallelization = true)]
public sealed class GkeCmdletsCollection;

/// <summary>A runspace with RhaiiGke imported, $c holding the connection splat for a simulator, and every stream captured.</summary>
public sealed class GkeCmdletHost : IDisposable
{
    private readonly Runspace _runspace;

    public GkeCmdletHost(GkeTestBed bed)
    {
        Bed = bed;
        var iss = InitialSessionState.CreateDefault2();
        iss.ImportPSModule(typeof(RhaiiCmdlet).Assembly.Location);
        _runspace = RunspaceFactory.CreateRunspace(iss);
        _runspace.Open();
        _runspace.SessionStateProxy.SetVariable("token", GkeTestBed.Secure(bed.Token));
        _runspace.SessionStateProxy.SetVariable("c", new System.Collections.Hashtable
        {
            ["Project"] = GkeTestBed.Project,
            ["AccessToken"] = GkeTestBed.Secure(bed.Token),
            ["Endpoint"] = bed.Simulator.ContainerEndpoint,
            ["ComputeEndpoint"] = bed.Simulator.ComputeEndpoint,
        });
        _runspace.SessionStateProxy.SetVariable("sim", bed.Simulator);
    }

    public GkeTestBed Bed { get; }

    public sealed record Result(IReadOnlyList<PSObject> Output, IReadOnlyList<ErrorRecord> Errors, string Streams)
    {
        public T Single<T>() => (T)Assert.Single(Output).BaseObject;
        public ErrorRecord Error => Assert.Single(Errors);
    }

    /// <summary>Runs a script; terminating errors come back as errors, not exceptions.</summary>
    public Result Run(string script)
    {
        using var ps = PowerShell.Create(_runspace);
        ps.AddScript(script);
        var output = new List<PSObject>();
        var errors = new List<ErrorRecord>();
        try { output.AddRange(ps.Invoke()); }
        catch (RuntimeException ex) { errors.Add(ex.ErrorRecord); }
        errors.AddRange(ps.Streams.Error);
        var streams = string.Join("\n", ps.Streams.Verbose.Select(v => "VERBOSE: " + v.Message)
            .Concat(ps.Streams.Debug.Select(d => "DEBUG: " + d.Message))
            .Concat(ps.Streams.Warning.Select(w => "WARNING: " + w.Message))
            .Concat(ps.Streams.Information.Select(i => "INFO: " + i.MessageData))
            .Concat(ps.Streams.Progress.Select(p => $"PROGRESS: {p.Activity} {p.StatusDescription}"))
            .Concat(errors.Select(e => $"ERROR: {e.FullyQualifiedErrorId} {e} {e.ErrorDetails?.RecommendedAction} {e.Exception}")));
        return new Result(output, errors, streams);
    }

    /// <summary>Runs a script that must not fail.</summary>
    public Result Ok(string script)
    {
        var r = Run(script);
        if (r.Errors.Count > 0) throw new Xunit.Sdk.XunitException("PowerShell errors: " + string.Join("; ", r.Errors.Select(e => $"{e.FullyQualifiedErrorId}: {e}")));
        return r;
    }

    public void Dispose() => _runspace.Dispose();
}
