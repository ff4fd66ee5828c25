using System.Text.Json.Nodes;

namespace RhaiiGke.Sandbox.KubeApi.Controllers;

/// <summary>CRDs: NamesAccepted and Established after a delay, then served; deletion removes every instance first.</summary>
internal sealed class CrdController(ControllerManager m) : SimController(m)
{
    private const string Cleanup = "customresourcecleanup.apiextensions.k8s.io";
    protected override string Name => "apiextensions-apiserver";

    public override void OnEvent(WatchEvent ev)
    {
        if (!Is(ev, "apiextensions.k8s.io", "customresourcedefinitions")) return;
        var name = ev.Object.Name();
        if (ev.Type == "DELETED") { Core.Registry.RemoveCrd(name); return; }
        if (Deleting(ev.Object)) { Enqueue(name); return; }
        if (!ConditionTrue(ev.Object, "Established")) Enqueue(name, Delays.CrdEstablished);
        else if (Core.Registry.IsServedCrd(name) && ev.Old is not null && !ServerJson.DeepEquals(ev.Old["spec"], ev.Object["spec"])) Enqueue(name);
        else if (!Core.Registry.IsServedCrd(name)) Enqueue(name);
    }

    public override void Reconcile(string key)
    {
        var t = T("apiextensions.k8s.io", "customresourcedefinitions")!;
        var crd = Core.Peek(t, null, key);
        if (crd is null) { Core.Registry.RemoveCrd(key); return; }
        if (Deleting(crd))
        {
            var storeKey = crd.Str("spec", "group") + "/" + crd.Str("spec", "names", "plural");
            var instances = Core.PeekStore(storeKey).ToList();
            var ct = Core.Registry.ByStoreKey(storeKey);
            foreach (var o in instances)
            {
                if (ct is null) break;
                if (!Deleting(o)) Core.Delete(ct, o.Namespace(), o.Name(), WriteOptions.Controller(Name), new DeleteOptions());
                else if ((o.Arr("metadata", "finalizers")?.Count ?? 0) == 0) Core.ForceRemove(ct, o);
            }
            if (Core.PeekStore(storeKey).Any()) { Enqueue(key, TimeSpan.FromMilliseconds(50)); return; }
            Core.Registry.RemoveCrd(key);
            Core.Mutate(t, crd, o =>
            {
                var f = o.Arr("metadata", "finalizers");
                foreach (var x in f?.Where(x => x?.ToString() == Cleanup).ToList() ?? []) f!.Remove(x);
            }, Name);
            return;
        }
        if (!(crd.Arr("metadata", "finalizers")?.Any(f => f?.ToString() == Cleanup) ?? false))
            crd = Core.Mutate(t, crd, o =>
            {
                var meta = o.Ensure("metadata");
                if (meta["finalizers"] is not JsonArray f) { f = new JsonArray(); meta["finalizers"] = f; }
                f.Add(Cleanup);
            }, Name);
        crd = Core.Peek(t, null, key)!;
        Core.Registry.AddCrd(crd);
        var status = crd.Obj("status");
        var storage = (crd.Arr("spec", "versions") ?? []).FirstOrDefault(v => v.Bool("storage") == true).Str("name");
        var stored = new JsonArray();
        foreach (var v in status?.Arr("storedVersions") ?? []) stored.Add(v?.DeepClone());
        if (storage is not null && !stored.Any(v => v?.ToString() == storage)) stored.Add(storage);
        var newStatus = new JsonObject
        {
            ["conditions"] = new JsonArray(
                Condition("NamesAccepted", true, "NoConflicts", "no conflicts found", previous: status),
                Condition("Established", true, "InitialNamesAccepted", "the initial names have been accepted", previous: status)),
            ["acceptedNames"] = crd.At("spec", "names")?.DeepClone(),
            ["storedVersions"] = stored,
        };
        Core.WriteStatus(t, null, key, newStatus, Name);
    }
}

/// <summary>Namespaces: default ServiceAccount and root CA ConfigMap; deletion removes content, honours finalizers, then finalizes.</summary>
internal sealed class NamespaceController(ControllerManager m) : SimController(m)
{
    protected override string Name => "namespace-controller";

    public override void OnEvent(WatchEvent ev)
    {
        if (Is(ev, "", "namespaces"))
        {
            if (ev.Type == "DELETED") return;
            Enqueue(ev.Object.Name(), Deleting(ev.Object) ? Delays.NamespaceFinalize : TimeSpan.Zero);
            return;
        }
        if (ev.Namespace is { } ns && Get("", "namespaces", null, ns) is { } nsObj && Deleting(nsObj))
            Enqueue(ns, TimeSpan.FromMilliseconds(10));
    }

    public override void Reconcile(string key)
    {
        var nsType = T("", "namespaces")!;
        var ns = Core.Peek(nsType, null, key);
        if (ns is null) return;
        if (!Deleting(ns))
        {
            var sa = T("", "serviceaccounts")!;
            if (Core.Peek(sa, key, "default") is null)
                Core.Create(sa, key, new JsonObject { ["apiVersion"] = "v1", ["kind"] = "ServiceAccount", ["metadata"] = new JsonObject { ["name"] = "default", ["namespace"] = key } }, WriteOptions.Controller("service-account-controller"));
            var cm = T("", "configmaps")!;
            if (Core.Peek(cm, key, "kube-root-ca.crt") is null)
                Core.Create(cm, key, new JsonObject
                {
                    ["apiVersion"] = "v1", ["kind"] = "ConfigMap",
                    ["metadata"] = new JsonObject { ["name"] = "kube-root-ca.crt", ["namespace"] = key, ["annotations"] = new JsonObject { ["kubernetes.io/description"] = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters." } },
                    ["data"] = new JsonObject { ["ca.crt"] = "-----BEGIN CERTIFICATE-----\nsandbox\n-----END CERTIFICATE-----\n" },
                }, WriteOptions.Controller("root-ca-cert-publisher"));
            return;
        }

        var remaining = new List<(ResourceType T, JsonObject O)>();
        foreach (var storeKey in Core.StoreKeys)
        {
            var t = Core.Registry.ByStoreKey(storeKey);
            if (t is null || !t.Namespaced) continue;
            foreach (var o in Core.PeekAll(t, key))
            {
                if (!Deleting(o)) Core.Delete(t, key, o.Name(), WriteOptions.Controller(Name), new DeleteOptions("Background"));
                if (Core.Peek(t, key, o.Name()) is { } still) remaining.Add((t, still));
            }
        }
        if (remaining.Count > 0)
        {
            var finalizers = remaining.SelectMany(r => r.O.Arr("metadata", "finalizers") ?? []).Select(f => f?.ToString() ?? "").GroupBy(f => f)
                .Select(g => $"{g.Key} in {g.Count()} resource instances").ToList();
            var status = new JsonObject
            {
                ["phase"] = "Terminating",
                ["conditions"] = new JsonArray(
                    Condition("NamespaceContentRemaining", true, "SomeResourcesRemain",
                        "Some resources are remaining: " + string.Join(", ", remaining.GroupBy(r => r.T.GroupResource).Select(g => $"{g.Key} has {g.Count()} resource instances")), previous: ns.Obj("status")),
                    Condition("NamespaceFinalizersRemaining", finalizers.Count > 0, finalizers.Count > 0 ? "SomeFinalizersRemain" : "ContentHasNoFinalizers",
                        finalizers.Count > 0 ? "Some content in the namespace has finalizers remaining: " + string.Join(", ", finalizers) : "All content-preserving finalizers finished", previous: ns.Obj("status"))),
            };
            Core.WriteStatus(nsType, null, key, status, Name);
            Enqueue(key, TimeSpan.FromMilliseconds(50));
            return;
        }
        var current = Core.Peek(nsType, null, key)!;
        var nsFinalizers = current.Arr("spec", "finalizers");
        if (nsFinalizers is not null && nsFinalizers.Count > 0)
            current = Core.Mutate(nsType, current, o => o.Ensure("spec")["finalizers"] = new JsonArray(), Name);
        current = Core.Peek(nsType, null, key);
        if (current is not null && (current.Arr("metadata", "finalizers")?.Count ?? 0) == 0) Core.ForceRemove(nsType, current);
    }
}

/// <summary>Owner references: background cascading delete, foreground deletion.</summary>
internal sealed class GarbageCollector(ControllerManager m) : SimController(m)
{
    private const string Foreground = "foregroundDeletion";
    protected override string Name => "generic-garbage-collector";

    public override void OnEvent(WatchEvent ev)
    {
        var uid = ev.Object.Str("metadata", "uid");
        if (uid is null) return;
        if (ev.Type == "DELETED") Enqueue("gone:" + uid);
        else if (Deleting(ev.Object) && ev.Object.Arr("metadata", "finalizers")?.Any(f => f?.ToString() == Foreground) == true)
            Enqueue("fg:" + ev.StoreKey + ":" + KeyOf(ev.Object));
        // a dependent that disappears may release a foreground owner
        if (ev.Type == "DELETED")
            foreach (var r in ev.Object.Arr("metadata", "ownerReferences") ?? [])
                if (r.Str("uid") is { } ouid) Enqueue("owner:" + ouid);
    }

    public override void Reconcile(string key)
    {
        if (key.StartsWith("gone:", StringComparison.Ordinal))
        {
            var uid = key[5..];
            if (FindByUid(uid) is not null) return; // recreated? never with the same uid, but be safe
            foreach (var (t, o) in Dependents(uid))
            {
                var others = o.Arr("metadata", "ownerReferences")!.Where(r => r.Str("uid") != uid).ToList();
                if (others.Any(r => FindByUid(r.Str("uid") ?? "") is not null))
                {
                    Core.Mutate(t, o, n =>
                    {
                        var refs = n.Arr("metadata", "ownerReferences")!;
                        foreach (var r in refs.Where(r => r.Str("uid") == uid).ToList()) refs.Remove(r);
                    }, Name);
                }
                else if (!Deleting(o)) Core.Delete(t, o.Namespace(), o.Name(), WriteOptions.Controller(Name), new DeleteOptions("Background"));
            }
            return;
        }
        if (key.StartsWith("owner:", StringComparison.Ordinal))
        {
            var found = FindByUid(key[6..]);
            if (found is { } f && Deleting(f.O)) Enqueue("fg:" + f.T.StoreKey + ":" + KeyOf(f.O));
            return;
        }
        if (key.StartsWith("fg:", StringComparison.Ordinal))
        {
            var rest = key[3..];
            var colon = rest.IndexOf(':');
            var t = Core.Registry.ByStoreKey(rest[..colon]);
            if (t is null) return;
            var (ns, name) = t.Namespaced ? Split(rest[(colon + 1)..]) : (null, rest[(colon + 1)..]);
            var owner = Core.Peek(t, ns, name);
            if (owner is null) return;
            var uid = owner.Str("metadata", "uid")!;
            var deps = Dependents(uid).ToList();
            foreach (var (dt, d) in deps)
                if (!Deleting(d)) Core.Delete(dt, d.Namespace(), d.Name(), WriteOptions.Controller(Name), new DeleteOptions("Foreground"));
            if (deps.Count == 0)
                Core.Mutate(t, owner, n =>
                {
                    var f = n.Arr("metadata", "finalizers")!;
                    foreach (var x in f.Where(x => x?.ToString() == Foreground).ToList()) f.Remove(x);
                }, Name);
            else Enqueue(key, TimeSpan.FromMilliseconds(50));
        }
    }

    private IEnumerable<(ResourceType T, JsonObject O)> Dependents(string uid)
    {
        foreach (var storeKey in Core.StoreKeys)
        {
            var t = Core.Registry.ByStoreKey(storeKey);
            if (t is null) continue;
            foreach (var o in Core.PeekStore(storeKey))
                if (SimCore.OwnedBy(o, uid)) yield return (t, o);
        }
    }

    private (ResourceType T, JsonObject O)? FindByUid(string uid)
    {
        foreach (var storeKey in Core.StoreKeys)
        {
            var t = Core.Registry.ByStoreKey(storeKey);
            if (t is null) continue;
            foreach (var o in Core.PeekStore(storeKey))
                if (o.Str("metadata", "uid") == uid) return (t, o);
        }
        return null;
    }
}
