namespace RhaiiGke.Engine.Manifests.Lint.Rules;

/// <summary>
/// RHAII601: a service's files hold a kind outside the service's own set (<see cref="ServiceKinds"/>):
/// cluster-scoped RBAC above all. Deploy-LlmInferenceService -Path refuses such files unless the kind
/// is named in -AllowKind.
/// </summary>
internal sealed class KindOutsideServiceRule : LintRule
{
    public override string Id => "RHAII601";
    public override string Name => "KindOutsideService";
    public override FindingSeverity Severity => FindingSeverity.Error;
    public override string Description =>
        "Files that define an LLMInferenceService also hold a kind the module never deploys for a service (ClusterRole, ClusterRoleBinding, a Deployment, ...): Deploy-LlmInferenceService -Path refuses them unless the kind is named in -AllowKind.";

    public override void CheckObject(LintDocument doc, LintContext ctx)
    {
        if (ServiceKinds.IsAllowed(doc.ApiVersion, doc.Kind) || !ctx.Documents.Any(d => d.IsLlmIsvc)) return;
        var what = $"{doc.Kind} ({(doc.ApiVersion.Length > 0 ? doc.ApiVersion : "no apiVersion")})";
        var message = ServiceKinds.IsClusterRbac(doc.ApiVersion, doc.Kind)
            ? $"{what} {doc.Name} grants permissions across the whole cluster; it is not part of an LLMInferenceService, and Deploy-LlmInferenceService -Path refuses it."
            : $"{what} {doc.Name} is not a kind the module deploys for an LLMInferenceService; Deploy-LlmInferenceService -Path refuses it.";
        Report(ctx, doc, doc.Root["kind"] ?? doc.Root, message,
            $"Apply {doc.Kind} separately after review (kubectl apply), or pass -AllowKind {doc.Kind} to Deploy-LlmInferenceService if it belongs with the service.");
    }
}
