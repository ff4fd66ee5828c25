namespace RhaiiGke.Engine.Manifests.Lint.Rules;

/// <summary>RHAII201: on TPU, the kubelet waits long enough for weight loading and XLA compilation.</summary>
internal sealed class ProbeBudgetTooShortRule : LintRule
{
    public override string Id => "RHAII201";
    public override string Name => "ProbeBudgetTooShort";
    public override FindingSeverity Severity => FindingSeverity.Warning;
    public override string Description => $"On TPU, the startupProbe (or, without one, the livenessProbe) lets vLLM start for less than {K8s.XlaStartupSeconds} s (initialDelaySeconds + periodSeconds × failureThreshold); XLA compilation takes 3-5 minutes. Below half of that it is an Error.";

    public override void CheckPod(PodView pod, LintContext ctx)
    {
        if (!pod.IsTpu || pod.VllmContainer is not { } c) return;
        var startup = c.Node["startupProbe"];
        var liveness = c.Node["livenessProbe"];
        var (kind, probe) = startup is { IsMapping: true } ? ("startupProbe", startup)
            : liveness is { IsMapping: true } ? ("livenessProbe", liveness) : (null, null);

        if (probe is null)
        {
            if (pod.IsKServeTemplate && pod.IsServing && !pod.MayInherit)
                Report(ctx, pod.Owner, c.Node,
                    $"{c.Display} sets no startupProbe or livenessProbe, so it keeps the liveness probe of KServe's stock template, sized for GPU start-up; on TPU the kubelet restarts vLLM while it loads weights and compiles with XLA (3-5 minutes).",
                    $"Add a startupProbe: httpGet /health on port 8000 (scheme HTTPS), periodSeconds: 10, failureThreshold: 60.",
                    path: c.Node.Path + ".startupProbe");
            return;
        }

        var delay = probe["initialDelaySeconds"]?.Int ?? 0;
        var period = probe["periodSeconds"]?.Int ?? 10;
        var failures = probe["failureThreshold"]?.Int ?? 3;
        var budget = delay + period * failures;
        if (budget >= K8s.XlaStartupSeconds) return;
        var severity = budget < K8s.XlaStartupSeconds / 2 ? FindingSeverity.Error : FindingSeverity.Warning;
        var needed = (int)Math.Ceiling((K8s.XlaStartupSeconds * 2.5 - delay) / Math.Max(1, period));
        Report(ctx, pod.Owner, probe,
            $"The {kind} gives vLLM {budget} s (initialDelaySeconds {delay} + periodSeconds {period} × failureThreshold {failures}) before the kubelet restarts it; loading weights and XLA compilation on TPU take 3-5 minutes, so the container restarts in a loop.",
            kind == "startupProbe"
                ? $"Raise startupProbe.failureThreshold to {needed} (about 10 minutes at periodSeconds {period})."
                : "Add a startupProbe on /health with periodSeconds: 10 and failureThreshold: 60; the livenessProbe then starts only after start-up succeeded.",
            severity);
    }
}

/// <summary>RHAII202: HTTP probes match whether vLLM serves TLS.</summary>
internal sealed class ProbeSchemeMismatchRule : LintRule
{
    public override string Id => "RHAII202";
    public override string Name => "ProbeSchemeMismatch";
    public override FindingSeverity Severity => FindingSeverity.Error;
    public override string Description => "An httpGet probe's scheme does not match the vLLM listener: KServe's template serves HTTPS (--enable-ssl-refresh with the KServe certificate), a replaced command line without --ssl-certfile serves HTTP.";

    public override void CheckPod(PodView pod, LintContext ctx)
    {
        if (!pod.IsServing || pod.VllmContainer is not { } c) return;
        var cl = c.CommandLine;
        bool tls;
        if (pod.IsKServeTemplate) tls = cl.ServesTls;
        else if (cl.Tokens.Count > 0 && c.LooksLikeVllm) tls = cl.ServesTls;
        else return;

        foreach (var (kind, probe) in c.Probes)
        {
            if (probe["httpGet"] is not { IsMapping: true } get) continue;
            var schemeNode = get["scheme"];
            var scheme = (schemeNode?.Scalar ?? "HTTP").ToUpperInvariant();
            if (tls && scheme == "HTTP")
                Report(ctx, pod.Owner, schemeNode ?? get,
                    pod.IsKServeTemplate
                        ? $"The {kind} uses HTTP, but KServe's template runs vLLM with TLS (--enable-ssl-refresh and the KServe certificate): the probe never succeeds, so the pod {Consequence(kind)}."
                        : $"The {kind} uses HTTP, but vLLM serves HTTPS (--ssl-certfile): the probe never succeeds, so the pod {Consequence(kind)}.",
                    "Set scheme: HTTPS (the kubelet does not verify the certificate).",
                    path: get.Path + ".scheme");
            else if (!tls && scheme == "HTTPS")
                Report(ctx, pod.Owner, schemeNode ?? get,
                    pod.IsKServeTemplate
                        ? $"The {kind} uses HTTPS, but vLLM serves plain HTTP because the {(cl.CommandReplaced ? "command" : "args")} of {c.Display} replace KServe's TLS flags (see RHAII104): the probe never succeeds, so the pod {Consequence(kind)}."
                        : $"The {kind} uses HTTPS, but vLLM serves plain HTTP (no --ssl-certfile): the probe never succeeds, so the pod {Consequence(kind)}.",
                    pod.IsKServeTemplate
                        ? "Restore KServe's TLS by moving the extra flags to env VLLM_ADDITIONAL_ARGS (RHAII104); only if plain HTTP is intended, set scheme: HTTP."
                        : "Set scheme: HTTP, or serve TLS with --ssl-certfile/--ssl-keyfile.",
                    path: get.Path + ".scheme");
        }
    }

    private static string Consequence(string kind) => kind switch
    {
        "readinessProbe" => "never becomes Ready",
        "livenessProbe" => "is restarted in a loop",
        _ => "is restarted in a loop and never starts",
    };
}
