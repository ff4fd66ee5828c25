using RhaiiGke.Engine.Manifests.Lint;
using Xunit;

namespace RhaiiGke.Tests.Lint;

internal static class Fixtures
{
    public static string Folder => Path.Combine(AppContext.BaseDirectory, "Lint", "Fixtures");

    public static string PathOf(string name) => Path.Combine(Folder, name);

    public static IReadOnlyList<ManifestFinding> Lint(string name) => ManifestLinter.LintFiles([PathOf(name)]);

    /// <summary>
    /// The 1-based line of the <paramref name="occurrence"/>th line in the fixture that contains
    /// <paramref name="text"/> (or, with <paramref name="exact"/>, whose trimmed text equals it).
    /// </summary>
    public static int LineOf(string name, string text, int occurrence = 1, bool exact = false)
    {
        var lines = File.ReadAllLines(PathOf(name));
        var seen = 0;
        for (var i = 0; i < lines.Length; i++)
            if ((exact ? lines[i].Trim() == text : lines[i].Contains(text, StringComparison.Ordinal)) && ++seen == occurrence)
                return i + 1;
        throw new Xunit.Sdk.XunitException($"'{text}' not found in {name}");
    }

    public static string Describe(IEnumerable<ManifestFinding> findings) =>
        string.Join(Environment.NewLine, findings.Select(f => $"{f.RuleId} {f.Severity} L{f.Line} {f.ObjectPath}: {f.Message}"));

    /// <summary>The single finding of a rule, with a readable failure listing all findings.</summary>
    public static ManifestFinding Single(IReadOnlyList<ManifestFinding> findings, string ruleId)
    {
        var matches = findings.Where(f => f.RuleId == ruleId).ToList();
        Assert.True(matches.Count == 1, $"expected one {ruleId}, got {matches.Count}:{Environment.NewLine}{Describe(findings)}");
        return matches[0];
    }

    /// <summary>Asserts the exact multiset of rule IDs (order-insensitive).</summary>
    public static void AssertRules(IReadOnlyList<ManifestFinding> findings, params string[] expected) =>
        Assert.True(findings.Select(f => f.RuleId).OrderBy(x => x, StringComparer.Ordinal).SequenceEqual(expected.OrderBy(x => x, StringComparer.Ordinal)),
            $"expected [{string.Join(", ", expected)}], got:{Environment.NewLine}{Describe(findings)}");
}
