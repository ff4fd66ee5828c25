using System.Globalization;
using System.Numerics;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace RhaiiGke.Engine.Manifests.Lint.Rules;

/// <summary>
/// RHAII501: an integer field Kubernetes stores as int32 holds a value outside its range (replicas:
/// 99999999999 would be refused by the API server, or wrap to 1,215,752,191 in a client that casts), or a
/// count that cannot be negative is, or a container port outside 1-65535.
/// </summary>
internal sealed class IntegerOutOfRangeRule : LintRule
{
    public override string Id => "RHAII501";
    public override string Name => "IntegerOutOfRange";
    public override FindingSeverity Severity => FindingSeverity.Error;
    public override string Description => "An int32 field (replicas, parallelism, probe timings, ports, ...) holds a value outside its range, a negative count, or a port outside 1-65535: the API server refuses the object.";

    /// <summary>Fields that are int32 in the Kubernetes, LeaderWorkerSet and KServe APIs, with their least valid value.</summary>
    private static readonly Dictionary<string, long> Int32Fields = new(StringComparer.Ordinal)
    {
        ["replicas"] = 0, ["minReplicas"] = 0, ["maxReplicas"] = 0,
        ["tensor"] = 0, ["pipeline"] = 0, ["data"] = 0, ["dataLocal"] = 0, ["dataRPCPort"] = 1, ["expert"] = 0,
        ["size"] = 0, ["revisionHistoryLimit"] = 0, ["progressDeadlineSeconds"] = 0, ["minReadySeconds"] = 0,
        ["parallelism"] = 0, ["completions"] = 0, ["backoffLimit"] = 0,
        ["initialDelaySeconds"] = 0, ["periodSeconds"] = 0, ["timeoutSeconds"] = 0, ["successThreshold"] = 0, ["failureThreshold"] = 0,
        ["containerPort"] = 1, ["hostPort"] = 0,
    };

    public override void CheckObject(LintDocument doc, LintContext ctx)
    {
        if (doc.Kind is "ConfigMap" or "Secret") return; // their data are strings, whatever the keys
        foreach (var (key, value) in doc.Root.Entries)
            if (key != "metadata") Walk(doc, ctx, value);
    }

    private void Walk(LintDocument doc, LintContext ctx, YamlView node)
    {
        foreach (var (key, value) in node.Entries)
        {
            if (value.IsScalar)
            {
                // quoted numbers are strings (a type error of their own); only plain scalars are integers
                if (Int32Fields.TryGetValue(key, out var min) && value.Node is YamlScalarNode { Style: ScalarStyle.Plain or ScalarStyle.Any } && Integer(value.Scalar) is { } n)
                {
                    var max = key is "containerPort" or "hostPort" ? 65535 : int.MaxValue;
                    if (n < min || n > max)
                        Report(ctx, doc, value,
                            n > int.MaxValue || n < int.MinValue
                                ? $"{value.Path} is {n}, outside the int32 range Kubernetes stores it in (at most {int.MaxValue:N0}); the API server refuses it."
                                : $"{value.Path} is {n}; it must be between {min} and {max:N0}.",
                            $"Set {key} to a value between {min} and {max:N0}.");
                }
                continue;
            }
            Walk(doc, ctx, value);
        }
        foreach (var item in node.Items) Walk(doc, ctx, item);
    }

    /// <summary>A YAML integer (decimal, any size), or null for other scalars.</summary>
    private static BigInteger? Integer(string? s)
    {
        if (s is null) return null;
        var t = s.Trim().Replace("_", "");
        return t.Length > 0 && t.TrimStart('+', '-').All(char.IsAsciiDigit) && BigInteger.TryParse(t, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) ? n : null;
    }
}

/// <summary>
/// RHAII502: none of the linted files holds an object the linter checks (an LLMInferenceService,
/// LLMInferenceServiceConfig or a pod-bearing workload), so "no findings" would mean nothing. Reported
/// by <see cref="ManifestLinter"/> for the whole run, one finding per source.
/// </summary>
internal sealed class NothingCheckedRule : LintRule
{
    public override string Id => "RHAII502";
    public override string Name => "NothingChecked";
    public override FindingSeverity Severity => FindingSeverity.Error;
    public override string Description => "The files hold no LLMInferenceService, LLMInferenceServiceConfig or workload (Deployment, StatefulSet, Job, LeaderWorkerSet, Pod) to check.";

    public ManifestFinding For(string? file, int objectCount) => new()
    {
        RuleId = Id,
        RuleName = Name,
        Severity = Severity,
        File = file,
        Line = 1,
        Column = 1,
        Kind = "",
        ObjectPath = "",
        Message = $"Nothing was checked: {(objectCount == 0 ? "there are no Kubernetes objects" : $"none of the {objectCount} object(s) is")} an LLMInferenceService, LLMInferenceServiceConfig or workload.",
        Fix = "Pass the files that define the LLMInferenceService (Export-RhaiiManifest writes them), or lint them together with these.",
    };
}
