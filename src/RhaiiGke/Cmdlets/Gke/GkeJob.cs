using System.Management.Automation;

namespace RhaiiGke.Cmdlets.Gke;

/// <summary>
/// A background job for long GKE work (-AsJob). Engine progress, verbose, warning and debug messages go to
/// the job's streams; the result goes to its output; a RhaiiException becomes an ErrorRecord with its
/// ErrorId. Stop-Job cancels waiting (the GKE operation itself goes on, and a re-run resumes it).
/// </summary>
public sealed class GkeJob : Job, IRhaiiLog
{
    private readonly CancellationTokenSource _cts = new();
    private readonly string _location;
    private string _status = "";
    private string? _openActivity; // the activity shown in the job's progress, completed when the job ends however it ends

    internal GkeJob(string command, string name, string location) : base(command, name)
    {
        _location = location;
        PSJobTypeName = "RhaiiGkeJob";
    }

    public override bool HasMoreData => Output.Count > 0 || Error.Count > 0 || Warning.Count > 0 || Verbose.Count > 0 || Progress.Count > 0;

    public override string Location => _location;

    public override string StatusMessage => _status;

    public override void StopJob()
    {
        _cts.Cancel();
        Finished.WaitOne(TimeSpan.FromSeconds(10));
    }

    internal void Start(Func<IRhaiiLog, CancellationToken, Task<object?>> work)
    {
        SetJobState(JobState.Running);
        _ = Task.Run(async () =>
        {
            var final = JobState.Completed;
            try
            {
                var result = await work(this, _cts.Token).ConfigureAwait(false);
                if (result is not null) Output.Add(PSObject.AsPSObject(result));
            }
            catch (OperationCanceledException) when (_cts.IsCancellationRequested) { final = JobState.Stopped; }
            catch (RhaiiException ex) { Error.Add(RhaiiCmdlet.ToErrorRecord(ex)); final = JobState.Failed; }
            catch (Exception ex) { Error.Add(new ErrorRecord(ex, "GkeJobFailed", ErrorCategory.NotSpecified, null)); final = JobState.Failed; }
            if (_openActivity is { } activity)
                Progress.Add(new ProgressRecord(1, activity, final.ToString()) { PercentComplete = 100, RecordType = ProgressRecordType.Completed });
            _status = final.ToString();
            SetJobState(final);
        });
    }

    void IRhaiiLog.Verbose(string message) => Verbose.Add(new VerboseRecord(message));
    void IRhaiiLog.Debug(string message) => Debug.Add(new DebugRecord(message));
    void IRhaiiLog.Warning(string message) => Warning.Add(new WarningRecord(message));
    void IRhaiiLog.Progress(string activity, string status, int percent)
    {
        _status = status;
        _openActivity = activity;
        Progress.Add(new ProgressRecord(1, activity, string.IsNullOrEmpty(status) ? activity : status) { PercentComplete = Math.Clamp(percent, -1, 100) });
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) _cts.Dispose();
        base.Dispose(disposing);
    }
}
