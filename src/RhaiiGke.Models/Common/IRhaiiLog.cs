namespace RhaiiGke;

/// <summary>Where Engine services report what they do. Cmdlets implement it over their streams.</summary>
public interface IRhaiiLog
{
    void Verbose(string message);
    void Debug(string message);
    void Warning(string message);
    /// <summary>Progress of long work; percent -1 when unknown.</summary>
    void Progress(string activity, string status, int percent);
}

/// <summary>A log that drops everything, for callers that do not care.</summary>
public sealed class NullRhaiiLog : IRhaiiLog
{
    public static readonly NullRhaiiLog Instance = new();
    public void Verbose(string message) { }
    public void Debug(string message) { }
    public void Warning(string message) { }
    public void Progress(string activity, string status, int percent) { }
}
