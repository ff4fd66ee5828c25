using System.Management.Automation;
using RhaiiGke.Engine.Gke;

namespace RhaiiGke.Cmdlets.Gke;

/// <summary>Gets GKE clusters with their node pools.</summary>
[Cmdlet(VerbsCommon.Get, "TpuCluster")]
[OutputType(typeof(TpuCluster))]
public sealed class GetTpuClusterCommand : GkeCmdlet
{
    /// <summary>Cluster name; wildcards allowed.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    public string? Name { get; set; }

    /// <summary>Zone or region; all locations when omitted.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("Location")]
    public string? Zone { get; set; }

    protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
    {
        var project = Session.RequireProject(Project);
        var service = new TpuClusterService(Session);
        if (!string.IsNullOrEmpty(Name) && !WildcardPattern.ContainsWildcardCharacters(Name) && !string.IsNullOrEmpty(Zone))
        {
            var cluster = await service.GetAsync(project, Zone, Name, cancellationToken);
            if (cluster is null)
                WriteError(new RhaiiException("TpuClusterNotFound", RhaiiErrorCategory.ObjectNotFound,
                    $"Cluster {Name} does not exist in {project}/{Zone}.", "Run Get-TpuCluster without -Name to list clusters.", Name));
            else WriteObject(cluster);
            return;
        }
        var pattern = string.IsNullOrEmpty(Name) ? null : new WildcardPattern(Name, WildcardOptions.IgnoreCase);
        var found = false;
        foreach (var c in await service.ListAsync(project, Zone, cancellationToken))
        {
            if (pattern is not null && !pattern.IsMatch(c.Name)) continue;
            found = true;
            WriteObject(c);
        }
        if (!found && Name is not null && pattern is not null && !WildcardPattern.ContainsWildcardCharacters(Name))
            WriteError(new RhaiiException("TpuClusterNotFound", RhaiiErrorCategory.ObjectNotFound,
                $"Cluster {Name} does not exist in {project}/{(string.IsNullOrEmpty(Zone) ? "any location" : Zone)}.", "Run Get-TpuCluster without -Name to list clusters.", Name));
    }
}
