using System.Collections.Concurrent;
using System.Management.Automation;

namespace RhaiiGke;

/// <summary>
/// The one base class of RhaiiGke cmdlets: async processing on the pipeline thread, cancellation on
/// Ctrl+C (<see cref="StopProcessing"/>), progress mirrored to the verbose stream and throttled, and
/// <see cref="RhaiiException"/> turned into ErrorRecords with stable IDs, categories and fixes.
/// </summary>
public abstract class RhaiiCmdlet : PSCmdlet, IRhaiiLog
{
    private readonly CancellationTokenSource _cts = new();
    private PipelineContext? _context;
    private long _lastProgressTicks;
    // Progress activities written as Processing and not yet Completed (id -> activity): completed on every way out.
    private readonly Dictionary<int, string> _openProgress = new();
    // This command's progress source: the host keys its progress bars by (source, activity), and the Completed records
    // written after Ctrl+C go straight to the host with the same source.
    private static long s_lastProgressSource = 0x5248_0000_0000_0000;
    private readonly long _progressSource = Interlocked.Increment(ref s_lastProgressSource);

    /// <summary>Cancelled when the user presses Ctrl+C or the pipeline stops.</summary>
    protected CancellationToken CancellationToken => _cts.Token;

    protected sealed override void BeginProcessing() => Run(BeginProcessingAsync);
    protected sealed override void ProcessRecord() => Run(ProcessRecordAsync);
    protected sealed override void EndProcessing()
    {
        Run(EndProcessingAsync);
        CompleteOpenProgress();
    }

    protected override void StopProcessing()
    {
        _cts.Cancel();
        base.StopProcessing();
    }

    protected virtual Task BeginProcessingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    protected virtual Task ProcessRecordAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    protected virtual Task EndProcessingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private void Run(Func<CancellationToken, Task> body)
    {
        var previous = SynchronizationContext.Current;
        using var context = new PipelineContext();
        _context = context;
        SynchronizationContext.SetSynchronizationContext(context);
        try
        {
            var task = body(_cts.Token);
            task.ContinueWith(_ => context.Complete(), TaskScheduler.Default);
            context.RunUntilComplete();
            task.GetAwaiter().GetResult();
        }
        catch (OperationCanceledException) when (_cts.IsCancellationRequested)
        {
            CompleteOpenProgress();
            throw new PipelineStoppedException();
        }
        catch (RhaiiException ex)
        {
            CompleteOpenProgress();
            ThrowTerminatingError(ToErrorRecord(ex));
        }
        catch (Exception ex) when (ex is not PipelineStoppedException && Classify(ex) is { } classified)
        {
            // transport and API failures the Engine did not classify itself still reach the user with an ErrorId and a fix
            CompleteOpenProgress();
            ThrowTerminatingError(ToErrorRecord(classified));
        }
        catch
        {
            // anything else (a bug, the pipeline stopped downstream, a terminating error from WriteError) ends the command too
            CompleteOpenProgress();
            throw;
        }
        finally
        {
            _context = null;
            SynchronizationContext.SetSynchronizationContext(previous);
        }
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static RhaiiException? Classify(Exception ex) => RhaiiGke.Engine.Kube.FailureClassifier.Classify(ex);

    /// <summary>Turns a <see cref="RhaiiException"/> into an ErrorRecord with ID, category, target and fix.</summary>
    public static ErrorRecord ToErrorRecord(RhaiiException ex)
    {
        var category = Enum.TryParse<ErrorCategory>(ex.Category.ToString(), out var c) ? c : ErrorCategory.NotSpecified;
        var record = new ErrorRecord(ex, ex.ErrorId, category, ex.Target);
        if (ex.RecommendedAction is { Length: > 0 } fix)
            record.ErrorDetails = new ErrorDetails(ex.Message) { RecommendedAction = fix };
        return record;
    }

    /// <summary>Reports a non-terminating error for one item so the pipeline goes on with the rest.</summary>
    protected void WriteError(RhaiiException ex) => WriteError(ToErrorRecord(ex));

    /// <summary>Throws a terminating error built from the parts.</summary>
    protected void Fail(string errorId, RhaiiErrorCategory category, string message, string? fix = null, object? target = null) =>
        ThrowTerminatingError(ToErrorRecord(new RhaiiException(errorId, category, message, fix, target)));

    /// <summary>Progress that is throttled (at most 5 updates a second, CI logs stay small) and mirrored to verbose.</summary>
    protected void ReportProgress(int activityId, string activity, string status, int percent = -1, bool completed = false)
    {
        var now = Environment.TickCount64;
        if (!completed && now - _lastProgressTicks < 200) return;
        _lastProgressTicks = now;
        var record = new ProgressRecord(activityId, activity, string.IsNullOrEmpty(status) ? activity : status)
        {
            PercentComplete = Math.Clamp(percent, -1, 100),
            RecordType = completed ? ProgressRecordType.Completed : ProgressRecordType.Processing,
        };
        OnPipeline(() =>
        {
            // tracked on the pipeline thread, in the order the records are written
            if (completed) _openProgress.Remove(activityId);
            else _openProgress[activityId] = activity;
            CommandRuntime.WriteProgress(_progressSource, record);
            if (!completed) WriteVerbose($"{activity}: {status}");
        });
    }

    /// <summary>
    /// Writes a Completed record for every activity still open, so no progress bar outlives the command: called when
    /// the command ends, fails or is stopped (Ctrl+C). Runs on the pipeline thread; never throws.
    /// </summary>
    private void CompleteOpenProgress()
    {
        if (_openProgress.Count == 0) return;
        foreach (var (id, activity) in _openProgress.ToArray())
        {
            _openProgress.Remove(id);
            var record = new ProgressRecord(id, activity, "Completed") { PercentComplete = 100, RecordType = ProgressRecordType.Completed };
            try
            {
                CommandRuntime.WriteProgress(_progressSource, record);
            }
            catch (Exception)
            {
                // A stopping pipeline (Ctrl+C) refuses writes from its commands: tell the host directly, with the same
                // source, so the bar it shows (or the progress stream of a hosted runspace) is closed all the same.
                try { Host?.UI?.WriteProgress(_progressSource, record); }
                catch (Exception) { } // no host UI: nothing shows a bar
            }
        }
    }

    // IRhaiiLog: Engine code may log from any thread; messages are marshalled to the pipeline thread.
    void IRhaiiLog.Verbose(string message) => OnPipeline(() => WriteVerbose(message));
    void IRhaiiLog.Debug(string message) => OnPipeline(() => WriteDebug(message));
    void IRhaiiLog.Warning(string message) => OnPipeline(() => WriteWarning(message));
    void IRhaiiLog.Progress(string activity, string status, int percent) => ReportProgress(1, activity, status, percent);

    private void OnPipeline(Action action)
    {
        var ctx = _context;
        if (ctx is null || ctx.IsPipelineThread) action();
        else ctx.Post(_ => action(), null);
    }

    /// <summary>A single-threaded context that runs continuations on the thread that called PowerShell.</summary>
    private sealed class PipelineContext : SynchronizationContext, IDisposable
    {
        private readonly BlockingCollection<(SendOrPostCallback, object?)> _queue = new();
        private readonly int _threadId = Environment.CurrentManagedThreadId;

        public bool IsPipelineThread => Environment.CurrentManagedThreadId == _threadId;

        public override void Post(SendOrPostCallback d, object? state) => TryPost(d, state); // completed: late log lines are dropped

        private bool TryPost(SendOrPostCallback d, object? state)
        {
            try { _queue.Add((d, state)); return true; }
            catch (InvalidOperationException) { return false; }
        }

        public override void Send(SendOrPostCallback d, object? state)
        {
            if (IsPipelineThread) { d(state); return; }
            using var done = new ManualResetEventSlim();
            // once the command has ended nobody pumps the queue: run it here rather than wait for ever
            if (!TryPost(s => { try { d(s); } finally { done.Set(); } }, state)) { d(state); return; }
            done.Wait();
        }

        public void Complete() => _queue.CompleteAdding();

        public void RunUntilComplete()
        {
            foreach (var (d, state) in _queue.GetConsumingEnumerable()) d(state);
        }

        public void Dispose() => _queue.Dispose();
    }
}
