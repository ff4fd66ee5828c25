using Xunit;

namespace RhaiiGke.Tests.Infrastructure;

/// <summary>Where the tests look for the upstream schemas: the variable, else shared/crd-schemas beside the checkout, and nowhere else.</summary>
public sealed class UpstreamSchemasTests : IDisposable
{
    private readonly string _tmp = Directory.CreateTempSubdirectory("rhaii-schemas-").FullName;

    private string Checkout()
    {
        // <tmp>/root/main is the checkout (it holds RhaiiGke.slnx); the test binaries are deep inside it
        var main = Directory.CreateDirectory(Path.Combine(_tmp, "root", "main")).FullName;
        File.WriteAllText(Path.Combine(main, "RhaiiGke.slnx"), "<Solution />");
        Directory.CreateDirectory(Path.Combine(main, "tests", "RhaiiGke.Tests", "bin", "Debug", "net8.0"));
        return main;
    }

    [Fact]
    public void FindsSharedBesideTheCheckout()
    {
        var main = Checkout();
        var bin = Path.Combine(main, "tests", "RhaiiGke.Tests", "bin", "Debug", "net8.0");
        Assert.Equal(main, UpstreamSchemas.FindCheckout(bin));
        var beside = Directory.CreateDirectory(Path.Combine(_tmp, "root", "shared", "crd-schemas")).FullName;
        Assert.Equal(beside, UpstreamSchemas.Locate(null, UpstreamSchemas.FindCheckout(bin)).Root);
    }

    [Fact]
    public void DoesNotWalkUpPastTheFolderBesideTheCheckout()
    {
        var main = Checkout();
        // shared/crd-schemas two levels up is not "beside the checkout"
        Directory.CreateDirectory(Path.Combine(_tmp, "shared", "crd-schemas"));
        var (root, reason) = UpstreamSchemas.Locate(null, main);
        Assert.Null(root);
        Assert.Contains(Path.Combine(_tmp, "root", "shared", "crd-schemas"), reason);
        Assert.Contains("RHAII_CRD_SCHEMAS", reason);
    }

    [Fact]
    public void TheVariableDecidesWhenSet()
    {
        var main = Checkout();
        Directory.CreateDirectory(Path.Combine(_tmp, "root", "shared", "crd-schemas"));
        var elsewhere = Directory.CreateDirectory(Path.Combine(_tmp, "elsewhere")).FullName;
        Assert.Equal(elsewhere, UpstreamSchemas.Locate(elsewhere, main).Root);

        // a variable naming a folder that does not exist is a reason to skip, not a cue to look elsewhere
        var missing = Path.Combine(_tmp, "nope");
        var (root, reason) = UpstreamSchemas.Locate(missing, main);
        Assert.Null(root);
        Assert.Contains(missing, reason);
    }

    public void Dispose() => Directory.Delete(_tmp, true);
}
