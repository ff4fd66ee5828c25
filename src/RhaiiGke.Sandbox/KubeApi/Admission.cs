using System.Text.Json.Nodes;

namespace RhaiiGke.Sandbox.KubeApi;

/// <summary>
/// Admission webhooks as the apiserver calls them: a matching webhook whose Service has no ready
/// endpoints fails the request ("no endpoints available for service"); one whose caBundle is not yet
/// injected fails with x509; failurePolicy Ignore lets the request through. Reachable webhooks run the
/// simulated validators registered in <see cref="Validators"/>.
/// </summary>
internal sealed partial class SimCore
{
    /// <summary>Simulated webhook logic by webhook name: returns a denial message or null.</summary>
    public Dictionary<string, Func<string, JsonObject, JsonObject?, string?>> Validators { get; } = new(StringComparer.Ordinal);

    private void Admit(string operation, ResourceType t, JsonObject obj, JsonObject? old, WriteOptions o, string? subresource)
    {
        if (t.Group == "admissionregistration.k8s.io") return;
        foreach (var kind in new[] { "mutatingwebhookconfigurations", "validatingwebhookconfigurations" })
        {
            foreach (var cfg in PeekAll("admissionregistration.k8s.io", kind).OrderBy(c => c.Name(), StringComparer.Ordinal))
            {
                foreach (var wh in cfg.Arr("webhooks")?.OfType<JsonObject>() ?? [])
                {
                    if (!RulesMatch(wh, operation, t, subresource)) continue;
                    if (!NamespaceMatches(wh, t, obj)) continue;
                    var objSel = wh.At("objectSelector");
                    if (objSel is JsonObject os && os.Count > 0 && !LabelSelector.FromObject(os).Matches(obj) && (old is null || !LabelSelector.FromObject(os).Matches(old))) continue;
                    var whName = wh.Str("name") ?? "";
                    if (o.DryRun && wh.Str("sideEffects") is not ("None" or "NoneOnDryRun"))
                        throw StatusError.BadRequest($"admission webhook \"{whName}\" has sideEffects: {wh.Str("sideEffects")} and does not support dry run");
                    var failure = CallFailure(cfg, wh);
                    if (failure is not null)
                    {
                        if (wh.Str("failurePolicy") == "Ignore") continue;
                        Interlocked.Increment(ref WebhookFailures);
                        throw StatusError.Internal($"failed calling webhook \"{whName}\": {failure}");
                    }
                    if (kind == "validatingwebhookconfigurations" && Validators.TryGetValue(whName, out var validate) && validate(operation, obj, old) is { } denial)
                        throw new StatusError(403, "Forbidden", $"admission webhook \"{whName}\" denied the request: {denial}",
                            new JsonObject { ["name"] = obj.Name(), ["group"] = t.Group, ["kind"] = t.Kind });
                }
            }
        }
    }

    private static bool RulesMatch(JsonObject wh, string operation, ResourceType t, string? subresource)
    {
        foreach (var r in wh.Arr("rules")?.OfType<JsonObject>() ?? [])
        {
            var ops = Strings(r["operations"]);
            if (!ops.Contains("*") && !ops.Contains(operation)) continue;
            var groups = Strings(r["apiGroups"]);
            if (!groups.Contains("*") && !groups.Contains(t.Group)) continue;
            var versions = Strings(r["apiVersions"]);
            if (!versions.Contains("*") && !versions.Contains(t.Version)) continue;
            var res = Strings(r["resources"]);
            var full = subresource is null ? t.Plural : t.Plural + "/" + subresource;
            var match = res.Any(x => x == full || (x == "*" && subresource is null) || x == "*/*" || (x == "*/" + subresource && subresource is not null) || (x == t.Plural + "/*" && subresource is not null));
            if (!match) continue;
            var scope = r.Str("scope") ?? "*";
            if (scope == "Namespaced" && !t.Namespaced) continue;
            if (scope == "Cluster" && t.Namespaced) continue;
            return true;
        }
        return false;
    }

    private static List<string> Strings(JsonNode? n) => (n as JsonArray)?.Select(x => x?.ToString() ?? "").ToList() ?? [];

    private bool NamespaceMatches(JsonObject wh, ResourceType t, JsonObject obj)
    {
        if (wh["namespaceSelector"] is not JsonObject sel || sel.Count == 0) return true;
        JsonObject? ns = t.Kind == "Namespace" ? obj : t.Namespaced ? Peek("", "namespaces", null, obj.Namespace() ?? "") : null;
        if (ns is null) return true; // cluster-scoped objects are not filtered by namespaceSelector
        return LabelSelector.FromObject(sel).Matches(ns);
    }

    /// <summary>Why calling this webhook fails now, or null when it can be called.</summary>
    private string? CallFailure(JsonObject cfg, JsonObject wh)
    {
        var cc = wh.Obj("clientConfig");
        var svc = cc.Obj("service");
        if (svc is null) return null; // url webhooks are assumed reachable
        var name = svc.Str("name") ?? "";
        var ns = svc.Str("namespace") ?? "default";
        var port = svc.Long("port") ?? 443;
        var path = svc.Str("path") ?? "";
        var timeout = wh.Long("timeoutSeconds") ?? 10;
        var post = $"failed to call webhook: Post \"https://{name}.{ns}.svc:{port}{path}?timeout={timeout}s\"";
        var service = Peek("", "services", ns, name);
        if (service is null) return $"{post}: service \"{name}\" not found";
        if (!HasReadyEndpoints(ns, name)) return $"{post}: no endpoints available for service \"{name}\"";
        var expected = ExpectedCaBundle(cfg);
        if (expected is not null)
        {
            var have = cc.Str("caBundle");
            if (string.IsNullOrEmpty(have) || have != expected)
                return $"{post}: tls: failed to verify certificate: x509: certificate signed by unknown authority";
        }
        return null;
    }

    public bool HasReadyEndpoints(string ns, string service)
    {
        var ep = Peek("", "endpoints", ns, service);
        return ep?.Arr("subsets")?.Any(s => (s.Arr("addresses")?.Count ?? 0) > 0) == true;
    }

    /// <summary>The caBundle cert-manager's cainjector would inject for this configuration, null when not annotated.</summary>
    public string? ExpectedCaBundle(JsonObject cfg)
    {
        var ann = cfg.Annotations();
        string? secretRef = null;
        if (ann.TryGetValue("cert-manager.io/inject-ca-from-secret", out var s)) secretRef = s;
        else if (ann.TryGetValue("cert-manager.io/inject-ca-from", out var c))
        {
            var parts = c.Split('/');
            if (parts.Length == 2 && Peek("cert-manager.io", "certificates", parts[0], parts[1]) is { } cert)
                secretRef = $"{parts[0]}/{cert.Str("spec", "secretName")}";
            else return "<certificate not found>";
        }
        if (secretRef is null) return null;
        var sp = secretRef.Split('/');
        if (sp.Length != 2) return "<bad reference>";
        var secret = Peek("", "secrets", sp[0], sp[1]);
        return secret?.Str("data", "ca.crt") ?? "<secret not found>";
    }
}
