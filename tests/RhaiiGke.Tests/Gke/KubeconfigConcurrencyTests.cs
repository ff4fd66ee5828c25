using RhaiiGke.Engine.Gke;
using Xunit;
using YamlDotNet.RepresentationModel;

namespace RhaiiGke.Tests.Gke;

/// <summary>Issue 10 #13: concurrent Get-TpuClusterCredential -Path writers on one kubeconfig.</summary>
public class KubeconfigConcurrencyTests
{
    private static TpuCluster Cluster(int writer, int i) => new()
    {
        Name = $"c{writer}-{i}", Project = "p", Location = "europe-west4-a", Status = "RUNNING", Endpoint = $"https://10.0.{writer}.{i}",
        CaCertificate = Convert.ToBase64String("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"u8.ToArray()),
    };

    private static List<string> Names(string file, string list)
    {
        var stream = new YamlStream();
        using (var r = new StreamReader(file)) stream.Load(r);
        var root = (YamlMappingNode)stream.Documents[0].RootNode;
        return ((YamlSequenceNode)root.Children[new YamlScalarNode(list)]).Children.OfType<YamlMappingNode>()
            .Select(m => ((YamlScalarNode)m.Children[new YamlScalarNode("name")]).Value!).ToList();
    }

    [Fact]
    public async Task EightParallelWritersLoseNoEntryAndRaiseNoError()
    {
        var dir = Directory.CreateTempSubdirectory("rhaii-kcfg-race-").FullName;
        try
        {
            var file = Path.Combine(dir, "config");
            const int writers = 8, each = 3;
            using var barrier = new Barrier(writers);
            var tasks = Enumerable.Range(0, writers).Select(w => Task.Factory.StartNew(() =>
            {
                barrier.SignalAndWait();
                for (var i = 0; i < each; i++) Kubeconfig.Merge(file, Cluster(w, i), ClusterAuthMode.GcloudAuthPlugin, setCurrentContext: true);
            }, TaskCreationOptions.LongRunning)).ToArray();
            await Task.WhenAll(tasks); // any writer's exception fails the test

            var expected = Enumerable.Range(0, writers).SelectMany(w => Enumerable.Range(0, each).Select(i => Cluster(w, i).ContextName)).OrderBy(n => n).ToList();
            foreach (var list in new[] { "clusters", "contexts", "users" })
                Assert.Equal(expected, Names(file, list).OrderBy(n => n).ToList());
            // nothing left behind: no lock file, no temporary file
            Assert.Equal(new[] { "config" }, Directory.GetFiles(dir).Select(f => Path.GetFileName(f)).ToArray());
            if (!OperatingSystem.IsWindows())
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void AStaleLockLeftByADeadWriterIsTakenOverAndALiveOneIsWaitedFor()
    {
        var dir = Directory.CreateTempSubdirectory("rhaii-kcfg-lock-").FullName;
        try
        {
            var file = Path.Combine(dir, "config");
            var lockFile = file + ".lock";
            File.WriteAllText(lockFile, "12345");
            File.SetLastWriteTimeUtc(lockFile, DateTime.UtcNow - Kubeconfig.StaleLockAge - TimeSpan.FromMinutes(1));
            Kubeconfig.Merge(file, Cluster(0, 0), ClusterAuthMode.GcloudAuthPlugin, true);
            Assert.False(File.Exists(lockFile));
            Assert.Single(Names(file, "contexts"));

            // a fresh lock held by someone else: the writer waits, then says who to wait for
            File.WriteAllText(lockFile, "12345");
            var ex = Assert.Throws<RhaiiException>(() => Kubeconfig.Merge(file, Cluster(0, 1), ClusterAuthMode.GcloudAuthPlugin, true, lockTimeout: TimeSpan.FromMilliseconds(200)));
            Assert.Equal("KubeconfigLocked", ex.ErrorId);
            Assert.Equal(RhaiiErrorCategory.ResourceBusy, ex.Category);
            Assert.Contains(lockFile, ex.RecommendedAction);
            Assert.Single(Names(file, "contexts")); // nothing was changed
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
