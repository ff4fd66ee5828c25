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

    /// <summary>
    /// Null when up to date, else the first difference (for logs, WhatIf and results). Values of sensitive
    /// fields (Secret data, fields named like credentials, values that look like one or contain one of
    /// <paramref name="secrets"/>) are never shown: the difference names the field and says "changed".
    /// </summary>
    public static string? Difference(JsonObject desired, JsonObject live, string fieldManager, IReadOnlyCollection<string>? secrets = null)
    {
        var want = Normalize(desired);
        var kind = desired.Str("kind");
        secrets ??= SecretRedaction.CollectValues([desired]);
        foreach (var (k, v) in want)
        {
            if (k is "status" or "apiVersion" or "kind") continue;
            if (k == "metadata")
            {
                foreach (var (mk, mv) in v as JsonObject ?? [])
                {
                    if (IgnoredMetadata.Contains(mk)) continue;
                    // a Secret's annotations may hold a copy of it (last-applied-configuration)
                    if (Subset(mv, live.At("metadata", mk), mk, kind == "Secret" && mk == "annotations", secrets) is { } d) return $".metadata.{mk}{d}";
                }
                continue;
            }
            if (Subset(v, live[k], k, SecretRedaction.IsSecretPayload(kind, k), secrets) is { } diff) return "." + k + diff;
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
    private static string? Subset(JsonNode? want, JsonNode? have, string field, bool sensitive, IReadOnlyCollection<string> secrets)
    {
        switch (want)
        {
            case null:
                return have is null ? null : " (should be null)";
            case JsonObject wo:
            {
                if (have is not JsonObject ho) return wo.Count == 0 && have is null ? " (missing)" : " (missing)";
                var entry = SecretRedaction.IsSensitiveEntry(wo);
                foreach (var (k, v) in wo)
                {
                    if (!ho.TryGetPropertyValue(k, out var hv)) return v is null ? null : $".{k} (missing)";
                    if (Subset(v, hv, k, sensitive || SecretRedaction.IsSensitiveName(k) || entry && k == "value", secrets) is { } d) return "." + k + d;
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
                        if (Subset(e, ha[idx], field, sensitive, secrets) is { } d) return $"[{FieldSet.KeyOf(e, keys)}]{d}";
                    }
                    return null;
                }
                if (ListKeys.IsPrimitiveSet(field))
                    return wa.All(w => ha.Any(h => KJson.DeepEquals(w, h))) ? null : " (missing items)";
                if (wa.Count != ha.Count) return $" ({wa.Count} items wanted, {ha.Count} live)";
                for (var i = 0; i < wa.Count; i++)
                    if (Subset(wa[i], ha[i], field, sensitive, secrets) is { } d) return $"[{i}]{d}";
                return null;
            }
            case JsonValue wv:
                if (have is JsonValue hv2 && KJson.ScalarEquals(wv, hv2)) return null;
                // "8000" vs 8000 for int-or-string fields is a real change; quantities like 1000m vs 1 are not normalised (apply is harmless)
                if (sensitive || Holds(wv, secrets) || have is JsonValue hs && Holds(hs, secrets)) return have is null ? " (missing)" : " (changed)";
                return $" ({have?.ToJson() ?? "missing"} -> {wv.ToJson()})";
        }
        return null;
    }

    /// <summary>A string value that is, looks like or contains a credential.</summary>
    private static bool Holds(JsonValue v, IReadOnlyCollection<string> secrets)
    {
        if (v.GetValueKind() != System.Text.Json.JsonValueKind.String) return false;
        var s = v.ToString();
        return SecretRedaction.LooksLikeCredential(s) || secrets.Any(x => s.Contains(x, StringComparison.Ordinal));
    }
}
