using RhaiiGke.Tests.Infrastructure;
using Xunit;

namespace RhaiiGke.Tests.Manifests;

public class ManifestCmdletTests : IDisposable
{
    private readonly PowerShellHost _ps = new();
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "rhaii-export-" + Guid.NewGuid().ToString("n"));

    [Fact]
    public void SpecPipesIntoExportAndWritesOneFilePerObject()
    {
        var files = _ps.Run($"New-LlmInferenceServiceSpec -Name qwen -Model hf://Qwen/Qwen2.5-3B-Instruct -WarningAction SilentlyContinue | Export-RhaiiManifest -Path '{_dir}' -WarningAction SilentlyContinue");
        Assert.NotEmpty(files);
        Assert.All(files, f => Assert.True(File.Exists(((ManifestFile)f.BaseObject).Path)));
        Assert.Equal(files.Count, Directory.GetFiles(_dir).Length);
    }

    [Fact]
    public void ReExportChangesNothingAndWhatIfWritesNothing()
    {
        var whatIf = Path.Combine(_dir, "whatif");
        _ps.Run($"Export-RhaiiManifest -Pattern CacheAware -Path '{whatIf}' -WhatIf -WarningAction SilentlyContinue");
        Assert.False(Directory.Exists(whatIf));

        _ps.Run($"Export-RhaiiManifest -Pattern CacheAware -Path '{_dir}' -WarningAction SilentlyContinue");
        var before = Directory.GetFiles(_dir).ToDictionary(f => f, File.GetLastWriteTimeUtc);
        Thread.Sleep(20);
        _ps.Run($"Export-RhaiiManifest -Pattern CacheAware -Path '{_dir}' -WarningAction SilentlyContinue");
        foreach (var (f, t) in before) Assert.Equal(t, File.GetLastWriteTimeUtc(f));
    }

    [Fact]
    public void GsUriWithoutAGoogleServiceAccountIsRejectedWithAStableIdAndAFix()
    {
        var (o, e) = _ps.Invoke("New-LlmInferenceServiceSpec -Name q -Model gs://bucket/model");
        Assert.Empty(o);
        var err = Assert.Single(e);
        Assert.StartsWith("GcpServiceAccountRequired,", err.FullyQualifiedErrorId);
        Assert.Equal(System.Management.Automation.ErrorCategory.InvalidArgument, err.CategoryInfo.Category);
        Assert.Contains("-GcpServiceAccount", err.ErrorDetails.RecommendedAction);
        var (ok, none) = _ps.Invoke("New-LlmInferenceServiceSpec -Name q -Model gs://bucket/model -GcpServiceAccount reader@my-project.iam.gserviceaccount.com");
        Assert.Empty(none);
        Assert.Equal("gs://bucket/model", ((LlmInferenceServiceSpec)Assert.Single(ok).BaseObject).ModelUri);
    }

    [Fact]
    public void SpecRoundTripsThroughJson()
    {
        var o = _ps.Run("New-LlmInferenceServiceSpec -Name qwen -Model Qwen/Qwen2.5-3B-Instruct -Pattern CacheAware -WarningAction SilentlyContinue | ConvertTo-Json | ConvertFrom-Json | ForEach-Object { \"$($_.Name)|$($_.Replicas)|$($_.NodeLabel)|$($_.Pattern)\" }");
        Assert.Equal("qwen|3|tpu-v6e-slice|1", o.Single().ToString());
    }

    public void Dispose()
    {
        _ps.Dispose();
        if (Directory.Exists(_dir)) Directory.Delete(_dir, true);
    }
}
