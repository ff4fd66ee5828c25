using System.Management.Automation;
using RhaiiGke.Tests.Infrastructure;
using Xunit;

namespace RhaiiGke.Tests.Lint;

/// <summary>Test-LlmInferenceServiceManifest in a hosted runspace.</summary>
public class LintCmdletTests : IDisposable
{
    private readonly PowerShellHost _ps = new();
    private readonly string _tmp = Path.Combine(Path.GetTempPath(), "rhaii-lint-cmd-" + Guid.NewGuid().ToString("n"));

    private static string Q(string s) => "'" + s.Replace("'", "''") + "'";

    private static List<ManifestFinding> Findings(IEnumerable<PSObject> output) => output.Select(o => Assert.IsType<ManifestFinding>(o.BaseObject)).ToList();

    [Fact]
    public void PathWritesTypedFindings()
    {
        var findings = Findings(_ps.Run($"Test-LlmInferenceServiceManifest -Path {Q(Fixtures.PathOf("seed004-pattern1.yaml"))}"));
        Assert.Equal(9, findings.Count);
        Assert.All(findings, f => Assert.Equal(Fixtures.PathOf("seed004-pattern1.yaml"), f.File));
        Assert.Equal(findings.OrderBy(f => f.Line).Select(f => f.Line), findings.Select(f => f.Line)); // file order
    }

    [Fact]
    public void FilesPipeInByFullNameAndFoldersAreRecursive()
    {
        var piped = Findings(_ps.Run($"Get-ChildItem {Q(Fixtures.Folder)} -Filter 'seed*.yaml' | Test-LlmInferenceServiceManifest"));
        Assert.Equal(2, piped.Select(f => f.File).Distinct().Count());

        var byPath = Findings(_ps.Run($"[pscustomobject]@{{ Path = {Q(Fixtures.PathOf("gs-uri.yaml"))} }} | Test-LlmInferenceServiceManifest"));
        Assert.Equal("RHAII301", Assert.Single(byPath).RuleId);

        var (summary, errors) = _ps.Invoke($"Test-LlmInferenceServiceManifest {Q(Fixtures.Folder)} -Summary");
        var results = summary.Select(o => Assert.IsType<TestManifestResult>(o.BaseObject)).ToList();
        Assert.Equal(Directory.GetFiles(Fixtures.Folder, "*.yaml").Length, results.Count);
        Assert.Contains(results, r => r.File == Fixtures.PathOf("good-llmisvc.yaml") && r.Passed && r.Findings.Length == 0);
        Assert.Contains(results, r => r.File == Fixtures.PathOf("seed004-pattern1.yaml") && !r.Passed && r.ErrorCount == 5 && r.WarningCount == 4);
        Assert.Single(errors); // invalid.yaml
    }

    [Fact]
    public void WildcardsExpandAndARealBracketNameIsTakenLiterally()
    {
        var wild = Findings(_ps.Run($"Test-LlmInferenceServiceManifest {Q(Path.Combine(Fixtures.Folder, "seed00?-*.yaml"))}"));
        Assert.Equal(2, wild.Select(f => f.File).Distinct().Count());

        Directory.CreateDirectory(_tmp);
        var odd = Path.Combine(_tmp, "svc[1].yaml");
        File.Copy(Fixtures.PathOf("gs-uri.yaml"), odd);
        Assert.Equal("RHAII301", Assert.Single(Findings(_ps.Run($"Test-LlmInferenceServiceManifest {Q(odd)}"))).RuleId);
        Assert.Equal("RHAII301", Assert.Single(Findings(_ps.Run($"Test-LlmInferenceServiceManifest -LiteralPath {Q(odd)}"))).RuleId);
    }

    [Fact]
    public void MissingPathIsATerminatingErrorWithAStableId()
    {
        var (output, errors) = _ps.Invoke($"Test-LlmInferenceServiceManifest {Q(Fixtures.PathOf("gs-uri.yaml"))}, {Q(Path.Combine(_tmp, "missing.yaml"))}; 'after'");
        var err = Assert.Single(errors);
        Assert.Equal("ManifestPathNotFound,RhaiiGke.Cmdlets.Manifests.TestLlmInferenceServiceManifestCommand", err.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.ObjectNotFound, err.CategoryInfo.Category);
        Assert.DoesNotContain(output, o => o.BaseObject is ManifestFinding); // terminating: nothing linted
        Assert.Contains(output, o => "after".Equals(o.BaseObject)); // only the statement stopped

        var (_, wildErrors) = _ps.Invoke($"Test-LlmInferenceServiceManifest {Q(Path.Combine(_tmp, "nothing-*.yaml"))}");
        Assert.StartsWith("ManifestPathNotFound,", Assert.Single(wildErrors).FullyQualifiedErrorId);
    }

    [Fact]
    public void UnparsableYamlIsANonTerminatingErrorAndTheRestIsLinted()
    {
        var (output, errors) = _ps.Invoke($"Test-LlmInferenceServiceManifest {Q(Fixtures.PathOf("invalid.yaml"))}, {Q(Fixtures.PathOf("gs-uri.yaml"))}");
        var err = Assert.Single(errors);
        Assert.Equal("ManifestYamlInvalid,RhaiiGke.Cmdlets.Manifests.TestLlmInferenceServiceManifestCommand", err.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.ParserError, err.CategoryInfo.Category);
        Assert.Equal(Fixtures.PathOf("invalid.yaml"), err.TargetObject);
        Assert.NotNull(err.ErrorDetails?.RecommendedAction);
        Assert.Equal("RHAII301", Assert.Single(Findings(output)).RuleId);
    }

    [Fact]
    public void YamlTextAndExportedObjectsAreLinted()
    {
        var yaml = File.ReadAllText(Fixtures.PathOf("accelerator-label.yaml"));
        var text = Findings(_ps.Invoke("Test-LlmInferenceServiceManifest -Yaml $y", new Dictionary<string, object?> { ["y"] = yaml }).Output);
        var f = Assert.Single(text);
        Assert.Null(f.File);
        Assert.Equal("RHAII001", f.RuleId);

        // Export-RhaiiManifest objects carry Yaml and FileName; they bind by property name.
        var objects = _ps.Invoke("[pscustomobject]@{ Yaml = $y; FileName = '40-svc.yaml' } | Test-LlmInferenceServiceManifest", new Dictionary<string, object?> { ["y"] = yaml }).Output;
        Assert.Equal("40-svc.yaml", Assert.Single(Findings(objects)).File);
    }

    [Theory]
    [InlineData("Baseline")]
    [InlineData("CacheAware")]
    [InlineData("GkeNativeGateway")]
    public void WhatRhaiiGkeExportsLintsClean(string pattern)
    {
        var (output, errors) = _ps.Invoke($"Export-RhaiiManifest -Pattern {pattern} -WarningAction SilentlyContinue | Test-LlmInferenceServiceManifest");
        Assert.Empty(errors);
        var findings = Findings(output);
        Assert.True(findings.Count == 0, Fixtures.Describe(findings));
    }

    [Fact]
    public void SeverityAndRuleFiltersNarrowTheOutput()
    {
        var seed = Q(Fixtures.PathOf("seed004-pattern1.yaml"));
        Assert.All(Findings(_ps.Run($"Test-LlmInferenceServiceManifest {seed} -Severity Error")), f => Assert.Equal(FindingSeverity.Error, f.Severity));
        Assert.Equal(5, _ps.Run($"Test-LlmInferenceServiceManifest {seed} -Severity Error").Count);
        Assert.Equal(["RHAII001", "RHAII006"], Findings(_ps.Run($"Test-LlmInferenceServiceManifest {seed} -IncludeRule 'rhaii00*'")).Select(f => f.RuleId).OrderBy(x => x).ToArray());
        var excluded = Findings(_ps.Run($"Test-LlmInferenceServiceManifest {seed} -ExcludeRule ProbeSchemeMismatch, RHAII1*"));
        Assert.DoesNotContain(excluded, f => f.RuleId == "RHAII202" || f.RuleId.StartsWith("RHAII1"));
        Assert.Equal(3, excluded.Count);
    }

    [Fact]
    public void RuleFiltersCompleteAndWarnWhenTheyMatchNothing()
    {
        var completions = _ps.Run("(TabExpansion2 -inputScript 'Test-LlmInferenceServiceManifest -ExcludeRule RHAII00' -cursorColumn 52).CompletionMatches.CompletionText");
        Assert.Contains(completions, c => "RHAII001".Equals(c.BaseObject));
        Assert.DoesNotContain(completions, c => "RHAII101".Equals(c.BaseObject));

        var (_, _) = _ps.Invoke($"$w = $null; Test-LlmInferenceServiceManifest {Q(Fixtures.PathOf("gs-uri.yaml"))} -ExcludeRule RHAII999 -WarningVariable w | Out-Null");
        var warnings = _ps.Run("$w");
        Assert.Contains("No lint rule matches 'RHAII999'", Assert.Single(warnings).ToString());
    }

    [Fact]
    public void QuietAnswersTrueOnlyWhenNothingIsReported()
    {
        bool Quiet(string args) => (bool)Assert.Single(_ps.Run($"Test-LlmInferenceServiceManifest {args} -Quiet")).BaseObject;
        Assert.True(Quiet(Q(Fixtures.PathOf("good-llmisvc.yaml"))));
        Assert.False(Quiet(Q(Fixtures.PathOf("seed004-pattern1.yaml"))));
        Assert.False(Quiet(Q(Fixtures.PathOf("dtype-half.yaml"))));
        Assert.True(Quiet(Q(Fixtures.PathOf("dtype-half.yaml")) + " -Severity Error")); // only a warning

        var (output, errors) = _ps.Invoke($"Test-LlmInferenceServiceManifest {Q(Fixtures.PathOf("invalid.yaml"))} -Quiet");
        Assert.False((bool)Assert.Single(output).BaseObject);
        Assert.Single(errors);

        var (_, both) = _ps.Invoke($"Test-LlmInferenceServiceManifest {Q(Fixtures.PathOf("good-llmisvc.yaml"))} -Quiet -Summary");
        Assert.StartsWith("LintSummaryAndQuiet,", Assert.Single(both).FullyQualifiedErrorId);
    }

    [Fact]
    public void DeclaresItsOutputTypes()
    {
        var types = _ps.Run("(Get-Command Test-LlmInferenceServiceManifest).OutputType.Type").Select(o => (Type)o.BaseObject).ToList();
        Assert.Contains(typeof(ManifestFinding), types);
        Assert.Contains(typeof(TestManifestResult), types);
        Assert.Contains(typeof(bool), types);
    }

    public void Dispose()
    {
        _ps.Dispose();
        if (Directory.Exists(_tmp)) Directory.Delete(_tmp, true);
    }
}
