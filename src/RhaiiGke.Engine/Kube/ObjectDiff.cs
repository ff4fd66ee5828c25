using System.Text;
using System.Text.Json.Nodes;
using RhaiiGke.Engine.Kube.Json;

namespace RhaiiGke.Engine.Kube;

/// <summary>
/// Decides, without sending anything, whether server-side applying a manifest would change the live
/// object: every field of the manifest must already hold the same value, and every field our field
/// manager owns must still be in the manifest (otherwise apply would remove it).
/// </summary>
internal static class ObjectDiff
{
    private static readonly HashSet<string> IgnoredMetadata = ["resourceVersion", "uid", "creationTimestamp", "generation", "managedFields", "selfLink"];

    /// <summary>Null when up to date, else the first difference (for logs).</summary>
    public static string? Difference(JsonObject desired, JsonObject live, string fieldManager)
    {
        var want = Normalize(desired);
        foreach (var (k, v) in want)
        {
            if (k is "status" or "apiVersion" or "kind") continue;
            if (k == "metadata")
            {
                foreach (var (mk, mv) in v as JsonObject ?? [])
                {
                    if (IgnoredMetadata.Contains(mk)) continue;
                    if (Subset(mv, live.At("metadata", mk), mk) is { } d) return $".metadata.{mk}{d}";
                }
                continue;
            }
            if (Subset(v, live[k], k) is { } diff) return "." + k + diff;
        }
        // fields we manage that the manifest no longer has would be removed by apply
        foreach (var e in ManagedEntry.Read(live).Where(e => e.Manager == fieldManager && e.Operation == "Apply" && e.Subresource is null))
            foreach (var p in e.Fields.Paths)
                if (!FieldSet.TryGet(want, p, out _) && !FieldSet.TryGet(desired, p, out _)) return ServerSideApply.Describe(p) + " (managed by " + fieldManager + ", dropped from the manifest)";
        return null;
    }

    /// <summary>The manifest as the server would store it, where that differs textually (Secret stringData).</summary>
    public static JsonObject Normalize(JsonObject desired)
    {
        if (desired.Str("kind") != "Secret" || desired["stringData"] is not JsonObject sd) return desired;
        var c = desired.Clone();
        var data = c.Ensure("data");
        foreach (var (k, v) in sd) data[k] = Convert.ToBase64String(Encoding.UTF8.GetBytes(v?.ToString() ?? ""));
        c.Remove("stringData");
        return c;
    }

    /// <summary>Null when every part of <paramref name="want"/> is in <paramref name="have"/>.</summary>
    private static string? Subset(JsonNode? want, JsonNode? have, string field)
    {
        switch (want)
        {
            case null:
                return have is null ? null : " (should be null)";
            case JsonObject wo:
            {
                if (have is not JsonObject ho) return wo.Count == 0 && have is null ? " (missing)" : " (missing)";
                foreach (var (k, v) in wo)
                {
                    if (!ho.TryGetPropertyValue(k, out var hv)) return v is null ? null : $".{k} (missing)";
                    if (Subset(v, hv, k) is { } d) return "." + k + d;
                }
                return null;
            }
            case JsonArray wa:
            {
                if (have is not JsonArray ha) return " (missing)";
                var keys = ListKeys.For(field, wa);
                if (keys is not null)
                {
                    foreach (var e in wa.OfType<JsonObject>())
                    {
                        var idx = FieldSet.FindByKey(ha, FieldSet.KeyOf(e, keys));
                        if (idx < 0) return $"[{FieldSet.KeyOf(e, keys)}] (missing)";
                        if (Subset(e, ha[idx], field) is { } d) return $"[{FieldSet.KeyOf(e, keys)}]{d}";
                    }
                    return null;
                }
                if (ListKeys.IsPrimitiveSet(field))
                    return wa.All(w => ha.Any(h => KJson.DeepEquals(w, h))) ? null : " (missing items)";
                if (wa.Count != ha.Count) return $" ({wa.Count} items wanted, {ha.Count} live)";
                for (var i = 0; i < wa.Count; i++)
                    if (Subset(wa[i], ha[i], field) is { } d) return $"[{i}]{d}";
                return null;
            }
            case JsonValue wv:
                if (have is JsonValue hv2 && KJson.ScalarEquals(wv, hv2)) return null;
                // "8000" vs 8000 for int-or-string fields is a real change; quantities like 1000m vs 1 are not normalised (apply is harmless)
                return $" ({have?.ToJson() ?? "missing"} -> {wv.ToJson()})";
        }
        return null;
    }
}
