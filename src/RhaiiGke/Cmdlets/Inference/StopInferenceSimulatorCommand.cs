using System.Management.Automation;
using RhaiiGke.Sandbox.Vllm;

namespace RhaiiGke.Cmdlets.Inference;

/// <summary>Stops simulators started with Start-InferenceSimulator.</summary>
[Cmdlet(VerbsLifecycle.Stop, "InferenceSimulator", SupportsShouldProcess = true, DefaultParameterSetName = IdSet)]
[OutputType(typeof(InferenceSimulator))]
public sealed class StopInferenceSimulatorCommand : RhaiiCmdlet
{
    private const string IdSet = "Id";
    private const string AllSet = "All";

    [Parameter(Mandatory = true, Position = 0, ParameterSetName = IdSet, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    public Guid[] Id { get; set; } = [];

    [Parameter(Mandatory = true, ParameterSetName = AllSet)]
    public SwitchParameter All { get; set; }

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override Task ProcessRecordAsync(CancellationToken cancellationToken)
    {
        var targets = All ? VllmSimulator.Running.ToList() : Id.Select(Find).Where(s => s is not null).Cast<InferenceSimulator>().ToList();
        foreach (var sim in targets)
        {
            if (!ShouldProcess($"{sim.Name} at {sim.BaseUrl}", "Stop vLLM simulator")) continue;
            VllmSimulator.Stop(sim.Id);
            sim.Running = false;
            if (PassThru) WriteObject(sim);
        }
        return Task.CompletedTask;
    }

    private InferenceSimulator? Find(Guid id)
    {
        var sim = VllmSimulator.Running.FirstOrDefault(s => s.Id == id);
        if (sim is null)
            WriteError(new RhaiiException("InferenceSimulatorNotFound", RhaiiErrorCategory.ObjectNotFound,
                $"No simulator with id {id} is running in this session.", "Simulators live in the PowerShell session that started them; run Stop-InferenceSimulator -All to stop every one.", id));
        return sim;
    }
}
