namespace RhaiiGke;

/// <summary>A support bundle written by Export-RhaiiSupportBundle (read back with Get-RhaiiDiagnosis -Path).</summary>
public sealed class SupportBundle
{
    public string Path { get; init; } = "";
    public DateTimeOffset CreatedAt { get; init; }
    public string Server { get; init; } = "";
    /// <summary>Objects of the kinds Get-RhaiiDiagnosis checks (Secrets with key names only).</summary>
    public int Objects { get; init; }
    /// <summary>Container logs (current and previous instances) of the services' and gateways' pods.</summary>
    public int LogFiles { get; init; }
    /// <summary>LLMInferenceServices whose metrics were scraped.</summary>
    public int Services { get; init; }
    /// <summary>Size of the zip in bytes.</summary>
    public long Size { get; set; }

    public override string ToString() => Path;
}
