using System.Text.RegularExpressions;

namespace RhaiiGke.Engine.Manifests.Lint.Rules;

/// <summary>RHAII301: spec.model.uri uses a scheme KServe's LLMInferenceService can download.</summary>
internal sealed class ModelUriUnsupportedRule : LintRule
{
    private static readonly string[] Supported = ["hf", "s3", "pvc", "oci"];

    public override string Id => "RHAII301";
    public override string Name => "ModelUriUnsupported";
    public override FindingSeverity Severity => FindingSeverity.Error;
    public override string Description => "spec.model.uri is missing or uses a scheme KServe's LLMInferenceService does not support (it supports hf://, s3://, pvc:// and oci://; not gs://).";

    public override void CheckObject(LintDocument doc, LintContext ctx)
    {
        if (!doc.IsKServe || doc.Spec is not { } spec) return;
        var uriNode = spec.Get("model.uri");
        if (uriNode?.Scalar is not { Length: > 0 } uri)
        {
            if (doc.IsLlmIsvc && !doc.MayInherit)
                Report(ctx, doc, spec["model"] ?? spec,
                    "spec.model.uri is missing; it is required, and KServe has nothing to download into /mnt/models.",
                    "Set spec.model.uri, e.g. hf://Qwen/Qwen2.5-3B-Instruct.",
                    path: "spec.model.uri");
            return;
        }
        if (K8s.IsTemplated(uri)) return;
        var sep = uri.IndexOf("://", StringComparison.Ordinal);
        var scheme = sep > 0 ? uri[..sep].ToLowerInvariant() : null;
        if (scheme is not null && Supported.Contains(scheme)) return;

        if (scheme == "gs")
            Report(ctx, doc, uriNode,
                $"'{uri}' is a Google Cloud Storage URI; KServe's LLMInferenceService downloads only hf://, s3://, pvc:// and oci:// models, so the storage-initializer fails and the pod never starts.",
                $"Serve the model from a supported location: s3://{uri[(sep + 3)..]} through GCS's S3-compatible endpoint (https://storage.googleapis.com with an HMAC key), a PVC (pvc://<claim>/<path>), an OCI image (oci://), or its Hugging Face id (hf://<org>/<model>).");
        else if (scheme is null)
            Report(ctx, doc, uriNode,
                $"'{uri}' has no scheme; KServe needs hf://, s3://, pvc:// or oci://.",
                uri.Count(ch => ch == '/') == 1 && !uri.StartsWith('/')
                    ? $"Use hf://{uri} for a Hugging Face model."
                    : "Prefix the location with hf://, s3://, pvc:// or oci://.");
        else
            Report(ctx, doc, uriNode,
                $"'{uri}' uses the {scheme}:// scheme; KServe's LLMInferenceService downloads only hf://, s3://, pvc:// and oci:// models.",
                "Copy the model to one of those (S3-compatible storage, a PVC, an OCI image) or use its Hugging Face id (hf://).");
    }
}

/// <summary>RHAII302: the Hugging Face token reaches KServe's storage-initializer through the ServiceAccount.</summary>
internal sealed class HfTokenNotOnServiceAccountRule : LintRule
{
    public override string Id => "RHAII302";
    public override string Name => "HfTokenNotOnServiceAccount";
    public override FindingSeverity Severity => FindingSeverity.Warning;
    public override string Description => "HF_TOKEN is given only as container env; KServe's storage-initializer, which downloads hf:// models, reads it from the secrets listed on the pod's ServiceAccount.";

    public override void CheckPod(PodView pod, LintContext ctx)
    {
        if (!pod.Owner.IsLlmIsvc || !pod.IsServing) return;
        var uri = pod.Owner.Spec?.Get("model.uri")?.Scalar;
        if (uri is null || !uri.StartsWith("hf://", StringComparison.OrdinalIgnoreCase)) return;
        var saName = pod.Spec.Str("serviceAccountName") ?? pod.Spec.Str("serviceAccount") ?? "default";
        var sa = ctx.FindObject("ServiceAccount", saName, pod.Owner.Namespace);
        var listed = sa?.Root["secrets"]?.Items.Select(s => s.Str("name")).OfType<string>().ToHashSet() ?? [];

        foreach (var c in pod.Containers)
            foreach (var env in c.EnvItems)
            {
                if (env.Str("name") is not ("HF_TOKEN" or "HUGGING_FACE_HUB_TOKEN")) continue;
                var secret = env.Get("valueFrom.secretKeyRef")?.Str("name");
                if (secret is null || listed.Contains(secret)) continue;
                Report(ctx, pod.Owner, env,
                    $"{env.Str("name")} comes from secret '{secret}' only in the environment of {c.Display}; KServe's storage-initializer downloads {uri} before vLLM starts and reads HF_TOKEN only from the secrets listed on the pod's ServiceAccount ('{saName}'), so gated or private models fail to download.",
                    $"List the secret on the ServiceAccount (secrets: [{{ name: {secret} }}] on ServiceAccount '{saName}'; the secret needs the key HF_TOKEN)" +
                    (saName == "default" ? ", preferably a dedicated one set as spec.template.serviceAccountName." : "."));
            }
    }
}

/// <summary>RHAII303: no credentials as literal values in manifests.</summary>
internal sealed class LiteralSecretInManifestRule : LintRule
{
    private static readonly Regex SecretName = new(@"(TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|APIKEY|SECRET_ACCESS_KEY)$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);

    public override string Id => "RHAII303";
    public override string Name => "LiteralSecretInManifest";
    public override FindingSeverity Severity => FindingSeverity.Error;
    public override string Description => "A token, password or API key is written into the manifest as a literal env value or flag instead of coming from a Secret.";

    public override void CheckPod(PodView pod, LintContext ctx)
    {
        var containers = pod.Containers.Select(c => c.Node)
            .Concat(pod.Spec["initContainers"]?.Items ?? []);
        foreach (var node in containers)
            foreach (var env in node["env"]?.Items ?? [])
            {
                var name = env.Str("name");
                if (name is null || !SecretName.IsMatch(name) || env["value"] is not { Scalar: { Length: > 0 } v } value || IsPlaceholder(v)) continue;
                Report(ctx, pod.Owner, value,
                    $"{name} is set as a literal value in the manifest: the credential is stored in plain text wherever the manifest goes (Git, kubectl get -o yaml, CI logs).",
                    $"Store it in a Secret and use valueFrom.secretKeyRef{(name.Contains("HF", StringComparison.OrdinalIgnoreCase) || name.Contains("HUGGING", StringComparison.OrdinalIgnoreCase) ? "; for HF_TOKEN list that Secret on the ServiceAccount (RHAII302)" : "")}.");
            }

        foreach (var c in pod.Containers)
            foreach (var flag in c.CommandLine.FindAll(VllmAdvice.SecretFlags))
                if (flag.Value is { Length: > 0 } v && !IsPlaceholder(v) && flag.Token.Origin != "template")
                    Report(ctx, pod.Owner, flag.Source ?? c.Node,
                        $"{flag.Name} is given a literal value on the command line: the credential is stored in the manifest and visible in the process list.",
                        $"Pass it from a Secret: an env var with valueFrom.secretKeyRef, referenced as $(VAR) in args.");
    }

    private static bool IsPlaceholder(string v) =>
        v.Contains("$(", StringComparison.Ordinal) || v.Contains("${", StringComparison.Ordinal) || K8s.IsTemplated(v) ||
        (v.StartsWith('<') && v.EndsWith('>'));
}
