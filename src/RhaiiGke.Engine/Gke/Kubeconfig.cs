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
    public static string Entry(TpuCluster cluster, ClusterAuthMode mode)
    {
        var root = NewRoot();
        Upsert(root, cluster, mode, setCurrentContext: true);
        return Save(root);
    }

    /// <summary>Adds or replaces the cluster's entries in a kubeconfig file (created with mode 600 if missing). Returns the full path.</summary>
    public static string Merge(string path, TpuCluster cluster, ClusterAuthMode mode, bool setCurrentContext)
    {
        var full = Path.GetFullPath(path);
        YamlMappingNode root;
        if (File.Exists(full) && new FileInfo(full).Length > 0)
        {
            var stream = new YamlStream();
            var text = File.ReadAllText(full);
            // bounded: a hostile kubeconfig (deep nesting, alias bomb) is an error, not a crash
            stream.Load(RhaiiGke.Engine.Manifests.YamlLimits.Bound(new YamlDotNet.Core.Parser(new StringReader(text)), text.Length, full));
            root = stream.Documents.Count > 0 && stream.Documents[0].RootNode is YamlMappingNode m ? m : NewRoot();
        }
        else root = NewRoot();
        Upsert(root, cluster, mode, setCurrentContext);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var tmp = full + ".rhaii-tmp";
        File.WriteAllText(tmp, Save(root));
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(tmp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.Move(tmp, full, overwrite: true);
        return full;
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

    private static void Upsert(YamlMappingNode root, TpuCluster cluster, ClusterAuthMode mode, bool setCurrentContext)
    {
        var name = cluster.ContextName;
        var clusterBody = new YamlMappingNode { { "server", cluster.Endpoint ?? "" } };
        if (!string.IsNullOrEmpty(cluster.CaCertificate) && (cluster.Endpoint ?? "").StartsWith("https://", StringComparison.OrdinalIgnoreCase))
            clusterBody.Add("certificate-authority-data", cluster.CaCertificate);
        Replace(root, "clusters", name, "cluster", clusterBody);
        Replace(root, "contexts", name, "context", new YamlMappingNode { { "cluster", name }, { "user", name } });
        var user = mode == ClusterAuthMode.GcloudAuthPlugin
            ? new YamlMappingNode
            {
                {
                    "exec", new YamlMappingNode
                    {
                        { "apiVersion", "client.authentication.k8s.io/v1beta1" },
                        { "command", PluginCommand },
                        { "installHint", PluginInstallHint },
                        { "provideClusterInfo", new YamlScalarNode("true") { Style = YamlDotNet.Core.ScalarStyle.Plain } },
                    }
                },
            }
            : new YamlMappingNode();
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
