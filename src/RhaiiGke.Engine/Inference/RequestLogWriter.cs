using System.Text.Json;
using System.Threading.Channels;

namespace RhaiiGke.Engine.Inference;

/// <summary>Appends each finished request to a JSONL file from a background task, flushing after every batch, so an interrupted run keeps what it measured.</summary>
internal sealed class RequestLogWriter : IAsyncDisposable
{
    private readonly Channel<InferenceRequestRecord> _channel = Channel.CreateUnbounded<InferenceRequestRecord>(new UnboundedChannelOptions { SingleReader = true });
    private readonly FileStream _file;
    private readonly Task _pump;

    public RequestLogWriter(string path)
    {
        Path = System.IO.Path.GetFullPath(path);
        var dir = System.IO.Path.GetDirectoryName(Path);
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        _file = new FileStream(Path, FileMode.Append, FileAccess.Write, FileShare.Read, 64 * 1024);
        _pump = Task.Run(PumpAsync);
    }

    public string Path { get; }

    public void Write(InferenceRequestRecord r) => _channel.Writer.TryWrite(r);

    private async Task PumpAsync()
    {
        using var w = new Utf8JsonWriter(_file, new JsonWriterOptions { SkipValidation = true });
        while (await _channel.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (_channel.Reader.TryRead(out var r))
            {
                WriteRecord(w, r);
                w.Flush();
                _file.WriteByte((byte)'\n');
                w.Reset();
            }
            await _file.FlushAsync().ConfigureAwait(false);
        }
    }

    public static void WriteRecord(Utf8JsonWriter w, InferenceRequestRecord r)
    {
        w.WriteStartObject();
        w.WriteNumber("index", r.Index);
        w.WriteString("stage", r.Stage);
        w.WriteBoolean("success", r.Success);
        w.WriteNumber("status", r.StatusCode);
        w.WriteNumber("scheduled_ms", Math.Round(r.ScheduledMs, 4));
        w.WriteNumber("start_ms", Math.Round(r.StartMs, 4));
        w.WriteNumber("scheduling_lag_ms", Math.Round(r.SchedulingLagMs, 4));
        w.WriteNumber("queue_time_ms", Math.Round(r.QueueTimeMs, 4));
        if (r.TtftMs is { } t) w.WriteNumber("ttft_ms", Math.Round(t, 4)); else w.WriteNull("ttft_ms");
        if (r.FirstByteMs is { } fb) w.WriteNumber("first_byte_ms", Math.Round(fb, 4)); else w.WriteNull("first_byte_ms");
        w.WriteNumber("latency_ms", Math.Round(r.LatencyMs, 4));
        if (r.TpotMs is { } tp) w.WriteNumber("tpot_ms", Math.Round(tp, 4)); else w.WriteNull("tpot_ms");
        if (r.NtpotMs is { } nt) w.WriteNumber("ntpot_ms", Math.Round(nt, 4)); else w.WriteNull("ntpot_ms");
        w.WriteStartArray("itl_ms");
        foreach (var g in r.ItlsMs) w.WriteNumberValue(Math.Round(g, 4));
        w.WriteEndArray();
        w.WriteNumber("prompt_tokens", r.PromptTokens);
        w.WriteNumber("output_tokens", r.OutputTokens);
        w.WriteNumber("cached_tokens", r.CachedTokens);
        if (r.FinishReason is null) w.WriteNull("finish_reason"); else w.WriteString("finish_reason", r.FinishReason);
        if (r.Pod is null) w.WriteNull("pod"); else w.WriteString("pod", r.Pod);
        if (r.Model.Length > 0) w.WriteString("model", r.Model);
        w.WriteString("error_type", r.ErrorType);
        w.WriteString("error", r.Error);
        if (r.GeneratedText.Length > 0) w.WriteString("generated_text", r.GeneratedText);
        w.WriteEndObject();
    }

    public async ValueTask DisposeAsync()
    {
        _channel.Writer.TryComplete();
        await _pump.ConfigureAwait(false);
        await _file.DisposeAsync().ConfigureAwait(false);
    }
}
