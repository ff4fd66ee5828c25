using System.Diagnostics;
using System.Text.Json.Nodes;
using RhaiiGke.Engine.Kube.Json;

namespace RhaiiGke.Engine.Kube.Platform;

/// <summary>
/// Where a component's manifests come from. A source is one or more entries separated by ';':
/// <c>sandbox</c>; an http(s) URL of rendered YAML; a file; a folder of *.yaml/*.yml/*.json (a folder
/// with kustomization.yaml is built with <c>kubectl kustomize</c>, one with Chart.yaml with
/// <c>helm template</c>); <c>kustomize:&lt;dir|url&gt;</c>; <c>helm:&lt;repo-url&gt;/&lt;chart&gt;@&lt;version&gt;</c> or
/// <c>helm:&lt;chart-dir&gt;</c>.
/// </summary>
internal static class ManifestSources
{
    private static readonly HttpClient s_http = new() { Timeout = TimeSpan.FromMinutes(2) };

    public static async Task<List<JsonObject>> LoadAsync(string component, string source, string? @namespace, IRhaiiLog log, CancellationToken ct)
    {
        var all = new List<JsonObject>();
        foreach (var entry in source.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            log.Verbose($"{component}: reading manifests from {entry}");
            var text = await ReadAsync(component, entry, @namespace, ct).ConfigureAwait(false);
            if (text is null) { all.AddRange(SandboxBundles.For(component)); continue; }
            try { all.AddRange(KubeYaml.ReadObjects(text)); }
            catch (FormatException ex)
            {
                throw new RhaiiException("ManifestSourceInvalid", RhaiiErrorCategory.ParserError, $"{component}: {entry} is not valid YAML: {ex.Message}",
                    "Point -Source at rendered Kubernetes YAML.", entry, ex);
            }
        }
        if (all.Count == 0)
            throw new RhaiiException("ManifestSourceEmpty", RhaiiErrorCategory.InvalidData, $"{component}: {source} holds no Kubernetes objects.", "Point -Source at rendered Kubernetes YAML.", source);
        return all;
    }

    /// <summary>The YAML text of one entry, or null for the sandbox bundle.</summary>
    private static async Task<string?> ReadAsync(string component, string entry, string? ns, CancellationToken ct)
    {
        if (entry.Equals("sandbox", StringComparison.OrdinalIgnoreCase)) return null;
        if (entry.StartsWith("kustomize:", StringComparison.OrdinalIgnoreCase))
            return await RunAsync(component, "kubectl", ["kustomize", entry["kustomize:".Length..]], "kubectl is needed to build kustomize overlays; install it, or pass rendered YAML.", ct).ConfigureAwait(false);
        if (entry.StartsWith("helm:", StringComparison.OrdinalIgnoreCase))
            return await HelmAsync(component, entry["helm:".Length..], ns, ct).ConfigureAwait(false);
        if (Uri.TryCreate(entry, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https")
        {
            try { return await s_http.GetStringAsync(uri, ct).ConfigureAwait(false); }
            catch (HttpRequestException ex)
            {
                throw new RhaiiException("ManifestSourceUnreachable", RhaiiErrorCategory.ConnectionError, $"{component}: cannot download {uri}: {ex.Message}",
                    "Download the release manifests once and pass the folder with -Source (air-gapped installs), or check the network.", uri, ex);
            }
        }
        if (Directory.Exists(entry))
        {
            if (File.Exists(Path.Combine(entry, "kustomization.yaml")) || File.Exists(Path.Combine(entry, "kustomization.yml")) || File.Exists(Path.Combine(entry, "Kustomization")))
                return await RunAsync(component, "kubectl", ["kustomize", entry], "kubectl is needed to build kustomize overlays; install it, or pass rendered YAML.", ct).ConfigureAwait(false);
            if (File.Exists(Path.Combine(entry, "Chart.yaml"))) return await HelmAsync(component, entry, ns, ct).ConfigureAwait(false);
            var files = Directory.EnumerateFiles(entry, "*", SearchOption.AllDirectories)
                .Where(f => f.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".yml", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
                .OrderBy(f => f, StringComparer.Ordinal).ToList();
            var parts = new List<string>();
            foreach (var f in files) parts.Add(await File.ReadAllTextAsync(f, ct).ConfigureAwait(false));
            return string.Join("\n---\n", parts);
        }
        if (File.Exists(entry)) return await File.ReadAllTextAsync(entry, ct).ConfigureAwait(false);
        throw new RhaiiException("ManifestSourceNotFound", RhaiiErrorCategory.ObjectNotFound, $"{component}: source '{entry}' is neither a URL, a file nor a folder.",
            "Pass a folder or file of rendered YAML, a URL, kustomize:<dir>, helm:<repo>/<chart>@<version>, or sandbox.", entry);
    }

    private static Task<string> HelmAsync(string component, string spec, string? ns, CancellationToken ct)
    {
        var args = new List<string> { "template", component };
        if (Directory.Exists(spec)) args.Add(spec);
        else
        {
            var at = spec.LastIndexOf('@');
            var chartRef = at > 0 ? spec[..at] : spec;
            var version = at > 0 ? spec[(at + 1)..] : null;
            var slash = chartRef.LastIndexOf('/');
            if (chartRef.StartsWith("http", StringComparison.OrdinalIgnoreCase) && slash > 0)
            {
                args.Add(chartRef[(slash + 1)..]);
                args.Add("--repo");
                args.Add(chartRef[..slash]);
            }
            else args.Add(chartRef);
            if (version is not null) { args.Add("--version"); args.Add(version); }
        }
        if (ns is not null) { args.Add("--namespace"); args.Add(ns); }
        args.Add("--include-crds");
        return RunAsync(component, "helm", args, "helm is not installed: install helm, or render the chart elsewhere and pass the folder with -Source.", ct);
    }

    public static string? Which(string exe)
    {
        var names = OperatingSystem.IsWindows() ? new[] { exe + ".exe", exe } : [exe];
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
            foreach (var n in names)
            {
                var p = Path.Combine(dir, n);
                if (File.Exists(p)) return p;
            }
        return null;
    }

    private static async Task<string> RunAsync(string component, string exe, IList<string> args, string missingFix, CancellationToken ct)
    {
        var path = Which(exe) ?? throw new RhaiiException(exe == "helm" ? "HelmNotFound" : "KubectlNotFound", RhaiiErrorCategory.NotInstalled,
            $"{component}: {exe} is not on PATH.", missingFix, exe);
        var psi = new ProcessStartInfo(path) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new RhaiiException("ManifestSourceFailed", RhaiiErrorCategory.OpenError, $"{component}: cannot start {exe}.", null, exe);
        var stdout = p.StandardOutput.ReadToEndAsync(ct);
        var stderr = p.StandardError.ReadToEndAsync(ct);
        await p.WaitForExitAsync(ct).ConfigureAwait(false);
        if (p.ExitCode != 0)
            throw new RhaiiException("ManifestSourceFailed", RhaiiErrorCategory.InvalidResult,
                $"{component}: {exe} {string.Join(' ', args)} failed ({p.ExitCode}): {(await stderr.ConfigureAwait(false)).Trim()}", "Check the chart or overlay reference.", exe);
        return await stdout.ConfigureAwait(false);
    }
}
