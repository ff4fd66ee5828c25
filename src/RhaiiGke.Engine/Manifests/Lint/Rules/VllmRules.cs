using System.Text.RegularExpressions;
using RhaiiGke.Engine.Catalog;

namespace RhaiiGke.Engine.Manifests.Lint.Rules;

/// <summary>Shared wording for the vLLM argument rules.</summary>
internal static class VllmAdvice
{
    private static readonly string[] Dropped =
        ["--model", "--served-model-name", "--port", "--host", "--ssl-certfile", "--ssl-keyfile", "--enable-ssl-refresh"];

    /// <summary>Flags whose values are secrets: never echoed in a finding.</summary>
    public static readonly string[] SecretFlags = ["--api-key", "--hf-token", "--ssl-keyfile-password"];

    /// <summary>
    /// The user's own flags, minus the ones KServe's template already sets (and, on TPU, the ones other
    /// rules reject), ready for VLLM_ADDITIONAL_ARGS.
    /// </summary>
    public static string ExtraFlags(VllmCommandLine cl, bool tpu)
    {
        var words = new List<string>();
        var user = cl.Tokens.Where(t => t.Origin is "args" or "command").ToList();
        for (var i = 0; i < user.Count; i++)
        {
            var t = user[i].Text;
            if (!t.StartsWith('-')) continue;
            var name = VllmCommandLine.NormalizeFlag(t.Contains('=') ? t[..t.IndexOf('=')] : t);
            var takesNext = !t.Contains('=') && i + 1 < user.Count && !user[i + 1].Text.StartsWith('-');
            var value = t.Contains('=') ? t[(t.IndexOf('=') + 1)..] : takesNext ? user[i + 1].Text : null;
            var rejectedOnTpu = tpu && (name == "--prefix-cache-block-size" ||
                                        (name == "--dtype" && value?.ToLowerInvariant() is "half" or "float16" or "fp16"));
            if (Dropped.Contains(name) || name == "-m" || rejectedOnTpu)
            {
                if (takesNext && name != "--enable-ssl-refresh") i++;
                continue;
            }
            var secret = SecretFlags.Contains(name);
            words.Add(secret && t.Contains('=') ? $"{t[..t.IndexOf('=')]}=<secret>" : t);
            if (takesNext) { i++; words.Add(secret ? "<secret>" : user[i].Text); }
        }
        return string.Join(" ", words);
    }

    public static string UseAdditionalArgs(VllmCommandLine cl, bool tpu)
    {
        var extra = ExtraFlags(cl, tpu);
        return extra.Length == 0
            ? "Remove command and args so KServe's template line applies; put any extra vLLM flags in env VLLM_ADDITIONAL_ARGS."
            : $"Remove command and args and set env VLLM_ADDITIONAL_ARGS to \"{extra}\"; KServe's template line then keeps --served-model-name, /mnt/models and TLS.";
    }

    public static YamlView Where(ContainerView c) => c.Args ?? c.Command ?? c.Node;
}

/// <summary>RHAII101: vLLM's tensor-parallel size uses the chips the pod gets.</summary>
internal sealed class TensorParallelMismatchRule : LintRule
{
    public override string Id => "RHAII101";
    public override string Name => "TensorParallelMismatch";
    public override FindingSeverity Severity => FindingSeverity.Error;
    public override string Description => "vLLM's --tensor-parallel-size (args, VLLM_ADDITIONAL_ARGS or spec.parallelism.tensor) exceeds, does not divide, or leaves idle the TPU chips of the pod.";

    public override void CheckPod(PodView pod, LintContext ctx)
    {
        if (!pod.IsServing || pod.VllmContainer is not { } c || !pod.IsTpu) return;
        var cl = c.CommandLine;
        var tpFlag = cl.Find("--tensor-parallel-size", "-tp");
        var ppFlag = cl.Find("--pipeline-parallel-size", "-pp");
        var specTp = pod.Parallelism?["tensor"];
        var specPp = pod.Parallelism?["pipeline"];
        if (K8s.IsTemplated(tpFlag?.Value) || K8s.IsTemplated(ppFlag?.Value)) return;

        int? total = pod.MultiNode
            ? pod.CatalogMatches().FirstOrDefault(t => t.ChipsPerHost == pod.TpuChips)?.Chips
            : pod.TpuChips ?? pod.CatalogMatches().FirstOrDefault(t => !t.MultiHost)?.ChipsPerHost;
        if (total is not { } chips) return;

        var tp = ParseInt(tpFlag?.Value) ?? specTp?.Int;
        YamlView? at = tpFlag?.Source ?? (tpFlag is null ? specTp : null);
        var pp = ParseInt(ppFlag?.Value) ?? specPp?.Int ?? 1;
        var kserve = pod.IsKServeTemplate;

        if (tpFlag is not null && specTp?.Int is { } st && ParseInt(tpFlag.Value) is { } ft && st != ft)
            Report(ctx, pod.Owner, tpFlag.Source ?? specTp,
                $"--tensor-parallel-size={ft} contradicts spec.parallelism.tensor: {st}.",
                "Keep one: set spec.parallelism.tensor and drop the flag, or make them equal.", FindingSeverity.Warning);

        if (tp is null)
        {
            // Only vLLM defaults to one chip; other TPU servers (JetStream, MaxText) shard differently.
            if (chips > 1 && !pod.MayInherit && !pod.MultiNode && (kserve || c.LooksLikeVllm))
                Report(ctx, pod.Owner, kserve ? (c.Env(K8s.AdditionalArgsEnv)?["value"] ?? c.Node) : VllmAdvice.Where(c),
                    $"No --tensor-parallel-size: vLLM defaults to 1 and uses 1 of the pod's {chips} TPU chips; the other {chips - 1} sit idle.",
                    kserve
                        ? $"Add --tensor-parallel-size={chips} to env VLLM_ADDITIONAL_ARGS (or set spec.parallelism.tensor: {chips}), or request 1 chip on a 1x1 topology if the model fits one chip."
                        : $"Add --tensor-parallel-size={chips} to the vLLM arguments, or request 1 chip on a 1x1 topology if the model fits one chip.",
                    FindingSeverity.Warning,
                    path: kserve && c.Env(K8s.AdditionalArgsEnv) is null ? c.Node.Path + ".env" : null);
            return;
        }

        at ??= c.Node;
        var used = tp.Value * pp;
        var what = pp > 1 ? $"tensor-parallel {tp} × pipeline-parallel {pp} = {used} chips" : $"--tensor-parallel-size={tp}";
        if (tp <= 0)
            Report(ctx, pod.Owner, at, $"--tensor-parallel-size={tp} is not a positive number.", $"Set it to {chips}.");
        else if (used > chips)
            Report(ctx, pod.Owner, at,
                $"{what} needs more TPU chips than the pod has ({chips}, from {K8s.TpuResource}{(pod.MultiNode ? " × hosts" : "")}); vLLM fails at start-up.",
                $"Set --tensor-parallel-size={chips / pp}, or request a topology with {used} chips (Get-TpuTopology).");
        else if (chips % used != 0)
            Report(ctx, pod.Owner, at,
                $"{what} does not divide the pod's {chips} TPU chips; the XLA device mesh cannot be laid out evenly.",
                $"Set --tensor-parallel-size={chips / pp} (or a divisor of {chips}).");
        else if (used < chips)
            Report(ctx, pod.Owner, at,
                $"{what} uses {used} of the pod's {chips} TPU chips; {chips - used} chip(s) sit idle (vLLM runs one engine per pod).",
                $"Set --tensor-parallel-size={chips / pp}, or request {used} chip(s) on a smaller topology and run more replicas (Get-TpuTopology -Model <model> -FitOnly).",
                FindingSeverity.Warning);
    }

    private static int? ParseInt(string? s) => int.TryParse(s, out var n) ? n : null;
}

/// <summary>RHAII102: replacing args in an LLMISVC keeps --served-model-name.</summary>
internal sealed class ServedModelNameLostRule : LintRule
{
    public override string Id => "RHAII102";
    public override string Name => "ServedModelNameLost";
    public override FindingSeverity Severity => FindingSeverity.Error;
    public override string Description => "An LLMInferenceService container replaces KServe's vLLM args and loses --served-model-name, so clients must send \"/mnt/models\" as the model name.";

    public override void CheckPod(PodView pod, LintContext ctx)
    {
        if (!pod.IsKServeTemplate || !pod.IsServing || pod.VllmContainer is not { } c) return;
        var cl = c.CommandLine;
        if (cl.Implied || !(cl.ArgsReplaced || cl.CommandReplaced)) return;
        var expected = pod.Owner.ServedModelName;
        var flag = cl.Find("--served-model-name");
        if (flag is null)
        {
            var servedAs = cl.ServedModelPath ?? K8s.ModelMountPath;
            Report(ctx, pod.Owner, VllmAdvice.Where(c),
                $"{c.Display} sets {(cl.CommandReplaced ? "command" : "args")}, which replaces KServe's vLLM arguments including --served-model-name: vLLM serves the model as '{servedAs}', so requests for model '{expected ?? "<spec.model.name>"}' fail with 404 and clients would have to send \"model\": \"{servedAs}\".",
                VllmAdvice.UseAdditionalArgs(cl, pod.IsTpu));
        }
        else if (flag.Value is { } value && expected is not null && !K8s.IsTemplated(value) && !K8s.IsTemplated(expected) && value != expected)
        {
            Report(ctx, pod.Owner, flag.Source ?? VllmAdvice.Where(c),
                $"--served-model-name '{value}' differs from the model name KServe publishes ('{expected}', spec.model.name): the route and InferenceModel use one name, vLLM answers to the other.",
                $"Drop --served-model-name (KServe's template sets it) or set it to '{expected}'.", FindingSeverity.Warning);
        }
    }
}

/// <summary>RHAII103: --model (or the positional model) in an LLMISVC points at /mnt/models.</summary>
internal sealed class ModelPathOverriddenRule : LintRule
{
    public override string Id => "RHAII103";
    public override string Name => "ModelPathOverridden";
    public override FindingSeverity Severity => FindingSeverity.Warning;
    public override string Description => "An LLMInferenceService container points vLLM at a model other than /mnt/models, where KServe's storage-initializer puts spec.model.uri.";

    public override void CheckPod(PodView pod, LintContext ctx)
    {
        if (!pod.IsKServeTemplate || !pod.IsServing || pod.VllmContainer is not { } c) return;
        var cl = c.CommandLine;
        if (cl.Implied) return;
        var uri = pod.Owner.Spec?.Get("model.uri")?.Scalar;
        var positional = cl.ServedModelPath;
        var flag = cl.Find("--model");
        if (flag?.Value is { } model && !IsMount(model) && !K8s.IsTemplated(model))
        {
            var ignored = positional is not null && positional != model;
            Report(ctx, pod.Owner, flag.Source ?? VllmAdvice.Where(c),
                ignored
                    ? $"--model={model} is ignored: `vllm serve {positional}` takes the positional model, which KServe's storage-initializer downloaded from spec.model.uri{(uri is null ? "" : $" ({uri})")}; the flag only misleads."
                    : $"vLLM loads '{model}' itself instead of /mnt/models, where KServe puts spec.model.uri{(uri is null ? "" : $" ({uri})")}: the model is downloaded twice and spec.model.uri is not what is served.",
                "Remove --model; KServe's template serves /mnt/models (the copy of spec.model.uri).");
        }
        else if (flag is null && positional is not null && !IsMount(positional) && !K8s.IsTemplated(positional) && cl.CommandReplaced)
        {
            Report(ctx, pod.Owner, c.Command ?? VllmAdvice.Where(c),
                $"The command serves '{positional}' instead of /mnt/models, where KServe puts spec.model.uri{(uri is null ? "" : $" ({uri})")}: the model is downloaded twice and spec.model.uri is not what is served.",
                "Serve /mnt/models, or drop command and args so KServe's template applies.");
        }
    }

    private static bool IsMount(string path) => path == K8s.ModelMountPath || path.StartsWith(K8s.ModelMountPath + "/", StringComparison.Ordinal);
}

/// <summary>RHAII104: replacing args in an LLMISVC keeps vLLM's TLS flags.</summary>
internal sealed class ServingTlsDroppedRule : LintRule
{
    public override string Id => "RHAII104";
    public override string Name => "ServingTlsDropped";
    public override FindingSeverity Severity => FindingSeverity.Error;
    public override string Description => "An LLMInferenceService container replaces KServe's vLLM args without --ssl-certfile/--ssl-keyfile, so vLLM serves plain HTTP while KServe's Service, gateway and scheduler speak TLS to it.";

    public override void CheckPod(PodView pod, LintContext ctx)
    {
        if (!pod.IsKServeTemplate || !pod.IsServing || pod.VllmContainer is not { } c) return;
        var cl = c.CommandLine;
        if (cl.Implied || !(cl.ArgsReplaced || cl.CommandReplaced) || cl.ServesTls) return;
        Report(ctx, pod.Owner, VllmAdvice.Where(c),
            $"{c.Display} replaces KServe's vLLM arguments without --ssl-certfile/--ssl-keyfile: vLLM serves plain HTTP, but KServe's workload Service (appProtocol https), the gateway's DestinationRule and the EPP scheduler connect with TLS, so requests through the gateway fail.",
            VllmAdvice.UseAdditionalArgs(cl, pod.IsTpu) + " If args must stay, add --enable-ssl-refresh --ssl-certfile=/var/run/kserve/tls/tls.crt --ssl-keyfile=/var/run/kserve/tls/tls.key.");
    }
}

/// <summary>RHAII105: no float16 on TPU.</summary>
internal sealed class Float16OnTpuRule : LintRule
{
    public override string Id => "RHAII105";
    public override string Name => "Float16OnTpu";
    public override FindingSeverity Severity => FindingSeverity.Warning;
    public override string Description => "--dtype=half/float16 on TPU, which computes in bfloat16; vLLM-TPU replaces it with bfloat16.";

    public override void CheckPod(PodView pod, LintContext ctx)
    {
        if (!pod.IsTpu) return;
        foreach (var c in pod.Containers)
            foreach (var flag in c.CommandLine.FindAll("--dtype"))
                if (flag.Value?.ToLowerInvariant() is "half" or "float16" or "fp16")
                    Report(ctx, pod.Owner, flag.Source ?? c.Node,
                        $"--dtype={flag.Value} asks for float16, which TPUs do not compute in: vLLM's TPU backend runs bfloat16 instead, so the flag misstates the precision and memory use.",
                        "Drop --dtype (TPU models load in bfloat16) or set --dtype=bfloat16.");
    }
}

/// <summary>RHAII106: --prefix-cache-block-size crash-loops vLLM on TPU.</summary>
internal sealed class PrefixCacheBlockSizeOnTpuRule : LintRule
{
    public override string Id => "RHAII106";
    public override string Name => "PrefixCacheBlockSizeOnTpu";
    public override FindingSeverity Severity => FindingSeverity.Error;
    public override string Description => "--prefix-cache-block-size on TPU, which crash-loops vLLM-TPU.";

    public override void CheckPod(PodView pod, LintContext ctx)
    {
        if (!pod.IsTpu) return;
        foreach (var c in pod.Containers)
            foreach (var flag in c.CommandLine.FindAll("--prefix-cache-block-size"))
                Report(ctx, pod.Owner, flag.Source ?? c.Node,
                    "--prefix-cache-block-size crash-loops vLLM on TPU.",
                    "Remove it: --enable-prefix-caching works with the KV block size (128 tokens on TPU by default), and cache-aware routing only needs prompts longer than one block.");
    }
}

/// <summary>RHAII107: a TPU pod runs a TPU build of vLLM.</summary>
internal sealed class GpuImageOnTpuRule : LintRule
{
    private static readonly Regex GpuImage = new(@"cuda|rocm|nvidia|vllm-openai|(^|[/_-])gpu([/:_-]|$)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);

    public override string Id => "RHAII107";
    public override string Name => "GpuImageOnTpu";
    public override FindingSeverity Severity => FindingSeverity.Warning;
    public override string Description => "A pod on TPU nodes runs a GPU (CUDA/ROCm) build of vLLM, or an LLMInferenceService on TPU keeps KServe's GPU default image.";

    public override void CheckPod(PodView pod, LintContext ctx)
    {
        if (!(pod.SelectsTpu || pod.RequestsTpu) || pod.VllmContainer is not { } c) return;
        if (c.Node["image"] is { Scalar: { } image } node)
        {
            if (GpuImage.IsMatch(image) && !image.Contains("tpu", StringComparison.OrdinalIgnoreCase))
                Report(ctx, pod.Owner, node,
                    $"Image '{image}' is a GPU build of vLLM; on TPU nodes it finds no GPU and fails to start.",
                    "Use a TPU build, e.g. registry.redhat.io/rhaiis/vllm-tpu-rhel9 or docker.io/vllm/vllm-tpu.");
        }
        else if (pod.IsKServeTemplate && !pod.MayInherit)
        {
            Report(ctx, pod.Owner, c.Node,
                $"{c.Display} sets no image on a TPU pod, so it keeps the image of KServe's stock template, a GPU (CUDA) build of vLLM that cannot use TPU.",
                "Set image to a TPU build, e.g. registry.redhat.io/rhaiis/vllm-tpu-rhel9:<version>.",
                path: c.Node.Path + ".image");
        }
    }
}

/// <summary>RHAII108: VLLM_ADDITIONAL_ARGS is only read by a command line that expands it.</summary>
internal sealed class AdditionalArgsIgnoredRule : LintRule
{
    public override string Id => "RHAII108";
    public override string Name => "AdditionalArgsIgnored";
    public override FindingSeverity Severity => FindingSeverity.Warning;
    public override string Description => "VLLM_ADDITIONAL_ARGS is set, but command/args replace the template line that expands it, so its flags never reach vLLM.";

    public override void CheckPod(PodView pod, LintContext ctx)
    {
        foreach (var c in pod.Containers)
        {
            if (c.Env(K8s.AdditionalArgsEnv)?["value"] is not { Scalar: { Length: > 0 } } value) continue;
            var cl = c.CommandLine;
            if (cl.Implied || cl.ExpandsAdditionalArgs || !(cl.ArgsReplaced || cl.CommandReplaced)) continue;
            Report(ctx, pod.Owner, value,
                $"VLLM_ADDITIONAL_ARGS is never read: {c.Display} sets {(cl.CommandReplaced ? "command" : "args")}, replacing the template line that expands it.",
                pod.IsKServeTemplate
                    ? "Remove command and args so KServe's template expands VLLM_ADDITIONAL_ARGS (keep the extra flags there)."
                    : "Reference ${VLLM_ADDITIONAL_ARGS} in the command line, or move the flags into args.");
        }
    }
}
