using System.Globalization;
using RhaiiGke.Engine.Kube.Json;

namespace RhaiiGke.Engine.Kube;

/// <summary>
/// Event-driven waits: instead of sleeping a poll interval, a wait watches the object it waits for (from the
/// resourceVersion it last read) and returns as soon as anything happens to it, or after <c>max</c> at the latest.
/// A stream the server cuts mid-way is resumed from the last version seen; a resume answered 410 Expired (the
/// version was compacted away) returns so the caller reads the object again (re-list) before watching anew.
/// </summary>
internal static class KubeWatch
{
    public enum Outcome { Changed, TimedOut, Expired, Unavailable }

    /// <summary>
    /// Waits for an event on <paramref name="collectionPath"/>/<paramref name="name"/> newer than <paramref name="resourceVersion"/>.
    /// <paramref name="count"/> receives "WatchDropped" and "WatchExpired" for each interruption handled.
    /// </summary>
    public static async Task<Outcome> WaitForChangeAsync(KubeClient client, string collectionPath, string name, string? resourceVersion, TimeSpan max,
        Action<string>? count, CancellationToken ct)
    {
        if (max <= TimeSpan.Zero || string.IsNullOrEmpty(resourceVersion)) return Outcome.TimedOut;
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(max);
        var rv = resourceVersion;
        var failures = 0;
        var seconds = Math.Max(1, (int)Math.Ceiling(max.TotalSeconds));
        while (!cts.IsCancellationRequested)
        {
            var q = $"{collectionPath}?watch=true&allowWatchBookmarks=true&fieldSelector={Uri.EscapeDataString("metadata.name=" + name)}" +
                    $"&resourceVersion={Uri.EscapeDataString(rv)}&timeoutSeconds={seconds.ToString(CultureInfo.InvariantCulture)}";
            try
            {
                using var res = await client.OpenStreamAsync(q, cts.Token).ConfigureAwait(false);
                using var stream = await res.Content.ReadAsStreamAsync(cts.Token).ConfigureAwait(false);
                using var reader = new StreamReader(stream);
                while (true)
                {
                    var line = await reader.ReadLineAsync(cts.Token).ConfigureAwait(false);
                    if (line is null) break;
                    if (line.Length == 0) continue;
                    var ev = KJson.ParseObject(line);
                    switch (ev.Str("type"))
                    {
                        case "BOOKMARK":
                            rv = ev.Str("object", "metadata", "resourceVersion") ?? rv;
                            continue;
                        case "ERROR":
                            if (ev.Long("object", "code") == 410) { count?.Invoke("WatchExpired"); return Outcome.Expired; }
                            return Outcome.Changed; // let the caller read what is there
                        default:
                            return Outcome.Changed;
                    }
                }
                if (cts.IsCancellationRequested) break;
                // the server closed the stream before our deadline: a dropped watch; resume from the last version seen
                count?.Invoke("WatchDropped");
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested) { break; }
            catch (KubeApiException e) when (e.Code == 410) { count?.Invoke("WatchExpired"); return Outcome.Expired; }
            catch (KubeApiException e) when (e.IsTransient) { if (++failures > 3) return Outcome.Unavailable; }
            catch (KubeApiException) { return Outcome.Unavailable; } // e.g. a kind or selector the server does not watch: the caller polls
            catch (Exception e) when (e is HttpRequestException or IOException or System.Text.Json.JsonException)
            {
                // cut mid-line, reset, refused: resume; if the server is gone the caller's next read says so with its ErrorId
                count?.Invoke("WatchDropped");
                if (++failures > 3) return Outcome.Unavailable;
            }
            try { await Task.Delay(TimeSpan.FromMilliseconds(10 * failures), cts.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested) { break; }
        }
        ct.ThrowIfCancellationRequested();
        return Outcome.TimedOut;
    }
}
