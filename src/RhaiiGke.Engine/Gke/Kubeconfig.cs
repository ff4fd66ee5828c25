using YamlDotNet.RepresentationModel;

namespace RhaiiGke.Engine.Gke;

/// <summary>
/// kubeconfig entries for GKE clusters, named like gcloud's (gke_PROJECT_LOCATION_NAME). The plugin mode
/// runs gke-gcloud-auth-plugin, so no secret is stored; token mode leaves the user's credentials out of
/// the YAML (the token stays in memory).
/// </summary>
public static class Kubeconfig
{
    public const string PluginCommand = "gke-gcloud-auth-plugin";
    public const string PluginInstallHint =
        "Install gke-gcloud-auth-plugin for use with kubectl by following https://cloud.google.com/kubernetes-engine/docs/how-to/cluster-access-for-kubectl#install_plugin";

    /// <summary>The entry as a standalone kubeconfig document.</summary>
    public static string Entry(TpuCluster cluster, ClusterAuthMode mode, KubeconfigExec? exec = null)
    {
        var root = NewRoot();
        Upsert(root, cluster, mode, setCurrentContext: true, exec);
        return Save(root);
    }

    /// <summary>
    /// Adds or replaces the cluster's entries in a kubeconfig file (created with mode 600 if missing). Returns the full path.
    /// Safe under concurrent writers (threads or processes): the read-merge-write runs under an exclusive lock file
    /// (&lt;file&gt;.lock, as kubectl's client-go uses), and the new content is written to a unique temporary file in the same
    /// folder and renamed over the target, so readers never see a half-written file and no writer's entries are lost.
    /// </summary>
    public static string Merge(string path, TpuCluster cluster, ClusterAuthMode mode, bool setCurrentContext, TimeSpan? lockTimeout = null, KubeconfigExec? exec = null)
    {
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        using var held = AcquireLock(full, lockTimeout ?? TimeSpan.FromSeconds(60));
        YamlMappingNode root;
        if (File.Exists(full) && new FileInfo(full).Length > 0)
        {
            var stream = new YamlStream();
            string text;
            try { text = File.ReadAllText(full); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new RhaiiException("KubeconfigUnreadable", RhaiiErrorCategory.PermissionDenied, $"Cannot read the kubeconfig {full} to add context {cluster.ContextName}: {e.Message}",
                    "Check the file's permissions (readable and writable by you: chmod 600), or pass -Path with another file.", full, e);
            }
            // bounded: a hostile kubeconfig (deep nesting, alias bomb) is an error, not a crash
            try { stream.Load(RhaiiGke.Engine.Manifests.YamlLimits.Bound(new YamlDotNet.Core.Parser(new StringReader(text)), text.Length, full)); }
            catch (YamlDotNet.Core.YamlException e)
            {
                throw new RhaiiException("KubeconfigInvalid", RhaiiErrorCategory.InvalidData,
                    $"The kubeconfig {full} is not valid YAML ({e.Message.Split('\n')[0].Trim()} at line {e.Start.Line}, column {e.Start.Column}); context {cluster.ContextName} was not added.",
                    "Fix the file (kubectl config view shows what kubectl makes of it), move it aside, or pass -Path with another file.", full, e);
            }
            if (stream.Documents.Count > 0 && stream.Documents[0].RootNode is not YamlMappingNode)
                throw new RhaiiException("KubeconfigInvalid", RhaiiErrorCategory.InvalidData, $"The kubeconfig {full} is not a kubeconfig (its document is not a mapping); context {cluster.ContextName} was not added.",
                    "Fix the file, move it aside, or pass -Path with another file.", full);
            root = stream.Documents.Count > 0 && stream.Documents[0].RootNode is YamlMappingNode m ? m : NewRoot();
        }
        else root = NewRoot();
        Upsert(root, cluster, mode, setCurrentContext, exec);
        var tmp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
            if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            using (var fs = new FileStream(tmp, options))
            using (var w = new StreamWriter(fs, new System.Text.UTF8Encoding(false)))
            {
                w.Write(Save(root));
                w.Flush();
                fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, full, overwrite: true);
        }
        finally
        {
            try { if (File.Exists(tmp)) File.Delete(tmp); } catch (IOException) { }
        }
        return full;
    }

    /// <summary>
    /// An exclusive lock on <paramref name="file"/>: &lt;file&gt;.lock created with O_EXCL (FileMode.CreateNew), the same
    /// convention kubectl (client-go) follows, and deleted when released. A lock file older than <see cref="StaleLockAge"/>
    /// was left by a writer that died (writers hold it for milliseconds) and is removed. Retried until <paramref name="timeout"/>.
    /// </summary>
    internal static IDisposable AcquireLock(string file, TimeSpan timeout)
    {
        var lockPath = file + ".lock";
        var deadline = DateTime.UtcNow + timeout;
        var delay = 5;
        while (true)
        {
            try
            {
                var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
                if (OperatingSystem.IsWindows()) options.Options = FileOptions.DeleteOnClose;
                else options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
                var fs = new FileStream(lockPath, options);
                var pid = System.Text.Encoding.ASCII.GetBytes(Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
                fs.Write(pid);
                fs.Flush();
                return new LockFile(fs, lockPath);
            }
            catch (IOException ex) when (ex is not (DirectoryNotFoundException or PathTooLongException))
            {
                try
                {
                    // one stat: the lock's age only when it existed then (a missing file's time is 1601, and a lock taken
                    // between two separate checks would look stale and be deleted under its live writer)
                    var held = new FileInfo(lockPath);
                    if (held.Exists && DateTime.UtcNow - held.LastWriteTimeUtc > StaleLockAge)
                    {
                        File.Delete(lockPath);
                        continue;
                    }
                }
                catch (IOException) { }
                catch (UnauthorizedAccessException) { }
                if (DateTime.UtcNow >= deadline)
                    throw new RhaiiException("KubeconfigLocked", RhaiiErrorCategory.ResourceBusy,
                        $"Could not lock {file} within {timeout.TotalSeconds:0}s: {lockPath} is held by another writer.",
                        $"Wait for the other writer (kubectl, gcloud, another Get-TpuClusterCredential) to finish and run the command again; if none is running, delete {lockPath}.", file, ex);
                Thread.Sleep(Random.Shared.Next(delay, delay * 2));
                delay = Math.Min(delay * 2, 100);
            }
        }
    }

    /// <summary>A lock file older than this was left behind by a writer that died.</summary>
    internal static TimeSpan StaleLockAge { get; set; } = TimeSpan.FromSeconds(30);

    private sealed class LockFile(FileStream stream, string path) : IDisposable
    {
        public void Dispose()
        {
            // delete while still holding it, so no other writer can open this one
            try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            stream.Dispose();
        }
    }

    private static YamlMappingNode NewRoot() => new()
    {
        { "apiVersion", "v1" },
        { "kind", "Config" },
        { "preferences", new YamlMappingNode() },
        { "clusters", new YamlSequenceNode() },
        { "contexts", new YamlSequenceNode() },
        { "users", new YamlSequenceNode() },
        { "current-context", "" },
    };

    private static void Upsert(YamlMappingNode root, TpuCluster cluster, ClusterAuthMode mode, bool setCurrentContext, KubeconfigExec? exec)
    {
        var name = cluster.ContextName;
        var clusterBody = new YamlMappingNode { { "server", cluster.Endpoint ?? "" } };
        if (!string.IsNullOrEmpty(cluster.CaCertificate) && (cluster.Endpoint ?? "").StartsWith("https://", StringComparison.OrdinalIgnoreCase))
            clusterBody.Add("certificate-authority-data", cluster.CaCertificate);
        Replace(root, "clusters", name, "cluster", clusterBody);
        Replace(root, "contexts", name, "context", new YamlMappingNode { { "cluster", name }, { "user", name } });
        var user = new YamlMappingNode();
        if (mode == ClusterAuthMode.GcloudAuthPlugin)
        {
            var execNode = new YamlMappingNode
            {
                { "apiVersion", "client.authentication.k8s.io/v1beta1" },
                { "command", PluginCommand },
            };
            if (exec?.Arguments is { Count: > 0 } args) execNode.Add("args", new YamlSequenceNode(args.Select(a => new YamlScalarNode(a))));
            if (exec?.Environment is { Count: > 0 } env)
                execNode.Add("env", new YamlSequenceNode(env.Select(kv => new YamlMappingNode { { "name", kv.Key }, { "value", kv.Value } })));
            execNode.Add("installHint", PluginInstallHint);
            execNode.Add("provideClusterInfo", new YamlScalarNode("true") { Style = YamlDotNet.Core.ScalarStyle.Plain });
            user.Add("exec", execNode);
        }
        Replace(root, "users", name, "user", user);
        if (setCurrentContext) root.Children[new YamlScalarNode("current-context")] = new YamlScalarNode(name);
    }

    private static void Replace(YamlMappingNode root, string listKey, string name, string bodyKey, YamlMappingNode body)
    {
        if (!root.Children.TryGetValue(new YamlScalarNode(listKey), out var node) || node is not YamlSequenceNode seq)
        {
            seq = new YamlSequenceNode();
            root.Children[new YamlScalarNode(listKey)] = seq;
        }
        var entry = new YamlMappingNode { { "name", name }, { bodyKey, body } };
        for (var i = 0; i < seq.Children.Count; i++)
            if (seq.Children[i] is YamlMappingNode m && m.Children.TryGetValue(new YamlScalarNode("name"), out var n) && n is YamlScalarNode s && s.Value == name)
            {
                seq.Children[i] = entry;
                return;
            }
        seq.Children.Add(entry);
    }

    private static string Save(YamlMappingNode root)
    {
        var stream = new YamlStream(new YamlDocument(root));
        using var w = new StringWriter();
        stream.Save(w, assignAnchors: false);
        var text = w.ToString();
        // YamlStream ends documents with "...": kubectl accepts it, but people diff these files.
        return text.EndsWith("...\n", StringComparison.Ordinal) ? text[..^4] : text.Replace("\n...\r\n", "\n").TrimEnd('.', '\r', '\n') + "\n";
    }
}

/// <summary>Extra arguments and environment for the kubeconfig's gke-gcloud-auth-plugin entry (no secrets: values are written to the file).</summary>
public sealed record KubeconfigExec(IReadOnlyList<string>? Arguments = null, IReadOnlyDictionary<string, string>? Environment = null)
{
    /// <summary>gke-gcloud-auth-plugin's switch to use Application Default Credentials instead of gcloud's account.</summary>
    public const string UseApplicationDefaultCredentials = "--use_application_default_credentials";
}
