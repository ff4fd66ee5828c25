namespace RhaiiGke;

/// <summary>What the apply engine did (or would do) with one object.</summary>
public enum KubeApplyAction
{
    /// <summary>Live object already matches: no request was sent.</summary>
    Unchanged,
    Created,
    Configured,
    /// <summary>-WhatIf: the server-side dry run says it would be created.</summary>
    WouldCreate,
    /// <summary>-WhatIf: the server-side dry run says it would change.</summary>
    WouldConfigure,
    Deleted,
    /// <summary>-WhatIf: the server-side dry run says it would be deleted.</summary>
    WouldDelete,
    /// <summary>Nothing to delete: the object does not exist.</summary>
    Absent,
    /// <summary>Left alone on purpose (e.g. a CRD that GKE manages).</summary>
    Skipped,
    Failed,
}

/// <summary>How the apply engine applies: field manager, force, dry run, waits, timeouts and retries.</summary>
public sealed class KubeApplyOptions
{
    /// <summary>Server-side apply field manager. Default <c>rhaiigke</c>.</summary>
    public string FieldManager { get; set; } = "rhaiigke";
    /// <summary>Take ownership of fields other managers set (kubectl --force-conflicts). Default true.</summary>
    public bool Force { get; set; } = true;
    /// <summary>Server-side dry run (dryRun=All): nothing is persisted, no waits (-WhatIf).</summary>
    public bool DryRun { get; set; }
    /// <summary>Wait for CRDs Established, workloads Available, webhooks reachable and resources Ready between phases.</summary>
    public bool Wait { get; set; } = true;
    /// <summary>Longest wait for one phase to become ready.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(5);
    /// <summary>How often readiness is polled.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(2);
    /// <summary>Retries of one request on admission/webhook errors, 429, 5xx, conflicts and connection failures.</summary>
    public int MaxRetries { get; set; } = 12;
    /// <summary>First retry delay; doubles with jitter up to <see cref="MaxRetryDelay"/>. Retry-After wins when longer.</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(500);
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(15);
    /// <summary>Name used in messages and errors (e.g. cert-manager).</summary>
    public string? Component { get; set; }
    /// <summary>CRD names never applied (e.g. GKE-managed Gateway API CRDs); reported as Skipped.</summary>
    public ISet<string> SkipCrds { get; set; } = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
}

/// <summary>One object of an apply run.</summary>
public sealed class KubeObjectResult
{
    public string ApiVersion { get; init; } = "";
    public string Kind { get; init; } = "";
    public string? Namespace { get; init; }
    public string Name { get; init; } = "";
    public KubeApplyAction Action { get; set; }
    /// <summary>Namespaces, CustomResourceDefinitions, Configuration, Workloads or CustomResources.</summary>
    public string Phase { get; init; } = "";
    public bool Ready { get; set; }
    /// <summary>Why it is not ready, or what happened.</summary>
    public string? Message { get; set; }

    public string Id => Namespace is null ? $"{Kind}/{Name}" : $"{Kind} {Namespace}/{Name}";
    public override string ToString() => $"{Id}: {Action}";
}

/// <summary>The outcome of applying a set of manifests (<c>Install-RhaiiOperators</c> reports one per component).</summary>
public sealed class KubeApplyResult
{
    public string? Component { get; init; }
    public RhaiiList<KubeObjectResult> Objects { get; init; } = [];
    public bool DryRun { get; init; }
    /// <summary>POST/PUT/PATCH/DELETE requests sent (0 when everything was already up to date).</summary>
    public int MutatingRequests { get; init; }
    /// <summary>Requests retried after a transient error (webhook not reachable, 429, 5xx, conflict, connection).</summary>
    public int Retries { get; init; }
    /// <summary>Transient errors seen, by reason (e.g. TooManyRequests, InternalError, WebhookUnavailable).</summary>
    public RhaiiMap<int> TransientErrors { get; init; } = RhaiiMap<int>.Empty;
    public TimeSpan Duration { get; init; }

    public int Created => Objects.Count(o => o.Action is KubeApplyAction.Created or KubeApplyAction.WouldCreate);
    public int Configured => Objects.Count(o => o.Action is KubeApplyAction.Configured or KubeApplyAction.WouldConfigure);
    public int Unchanged => Objects.Count(o => o.Action == KubeApplyAction.Unchanged);
    /// <summary>Objects deleted (or, with -WhatIf, that would be).</summary>
    public int Deleted => Objects.Count(o => o.Action is KubeApplyAction.Deleted or KubeApplyAction.WouldDelete);
    /// <summary>True when something was (or, with -WhatIf, would be) created, changed or deleted.</summary>
    public bool Changed => Created + Configured + Deleted > 0;

    public override string ToString() => $"{Component ?? "apply"}: {Created} created, {Configured} configured, {Unchanged} unchanged" + (Deleted > 0 ? $", {Deleted} deleted" : "");
}
