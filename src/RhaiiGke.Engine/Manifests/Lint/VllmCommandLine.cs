using System.Text;

namespace RhaiiGke.Engine.Manifests.Lint;

/// <summary>One word of the effective command line and the YAML node it came from (null when implied by KServe's template).</summary>
internal sealed record CommandToken(string Text, YamlView? Source, string Origin);

/// <summary>A flag found on the command line: <c>--x=v</c> or <c>--x v</c>.</summary>
internal sealed record CommandFlag(string Name, string? Value, CommandToken Token)
{
    public YamlView? Source => Token.Source;
}

/// <summary>
/// The command line vLLM will run in a container, as far as the manifest tells. For KServe templates
/// it models the merge with the stock <c>kserve-config-llm-template</c> (upstream-facts §2.2): the
/// template runs <c>vllm serve /mnt/models --served-model-name {{.Spec.Model.Name}} --port 8000
/// ${VLLM_ADDITIONAL_ARGS} --enable-ssl-refresh --ssl-certfile … --ssl-keyfile …</c>; a container that
/// sets <c>args</c> replaces everything after <c>vllm serve /mnt/models</c>, and one that sets
/// <c>command</c> replaces the whole line.
/// </summary>
internal sealed class VllmCommandLine
{
    private VllmCommandLine(List<CommandToken> tokens, bool implied, bool argsReplaced, bool commandReplaced, bool expandsAdditionalArgs)
    {
        Tokens = tokens;
        Implied = implied;
        ArgsReplaced = argsReplaced;
        CommandReplaced = commandReplaced;
        ExpandsAdditionalArgs = expandsAdditionalArgs;
    }

    public IReadOnlyList<CommandToken> Tokens { get; }

    /// <summary>The container sets neither command nor args: KServe's template line applies unchanged.</summary>
    public bool Implied { get; }

    /// <summary>The container's <c>args</c> replace the template's arguments.</summary>
    public bool ArgsReplaced { get; }

    /// <summary>The container's <c>command</c> replaces the template's command.</summary>
    public bool CommandReplaced { get; }

    /// <summary>VLLM_ADDITIONAL_ARGS reaches vLLM (the template's line, or a user line that references it).</summary>
    public bool ExpandsAdditionalArgs { get; }

    /// <summary>vLLM serves TLS: the command line carries <c>--ssl-certfile</c>.</summary>
    public bool ServesTls => Find("--ssl-certfile") is not null;

    public static VllmCommandLine For(ContainerView c)
    {
        var tokens = new List<CommandToken>();
        var hasCommand = c.Command is { IsSequence: true } cmd && cmd.Items.Any();
        var hasArgs = c.Args is { IsSequence: true } args && args.Items.Any();
        var kserve = c.Pod.IsKServeTemplate;
        var additional = c.Env(K8s.AdditionalArgsEnv)?["value"];

        if (kserve && !hasCommand && !hasArgs)
        {
            Implied("vllm", "serve", K8s.ModelMountPath, "--served-model-name", c.Pod.Owner.ServedModelName ?? "{{ .Spec.Model.Name }}", "--port", "8000");
            if (additional is not null) AddWords(additional, "env:" + K8s.AdditionalArgsEnv);
            Implied("--enable-ssl-refresh", "--ssl-certfile", "/var/run/kserve/tls/tls.crt", "--ssl-keyfile", "/var/run/kserve/tls/tls.key");
            return new VllmCommandLine(tokens, true, false, false, true);
        }

        if (hasCommand) foreach (var item in c.Command!.Items) AddWords(item, "command");
        else if (kserve) Implied("vllm", "serve", K8s.ModelMountPath);
        if (hasArgs) foreach (var item in c.Args!.Items) AddWords(item, "args");

        var references = References(c.Command) || References(c.Args);
        if (references && additional is not null) AddWords(additional, "env:" + K8s.AdditionalArgsEnv);
        return new VllmCommandLine(tokens, false, hasArgs, hasCommand, references);

        void Implied(params string[] words)
        {
            foreach (var w in words) tokens.Add(new CommandToken(w, null, "template"));
        }

        void AddWords(YamlView item, string origin)
        {
            foreach (var w in ShellWords(item.Scalar ?? "")) tokens.Add(new CommandToken(w, item, origin));
        }
    }

    /// <summary>True when the command or args text mentions vLLM (<c>vllm serve</c>, <c>-m vllm.entrypoints…</c>).</summary>
    public static bool MentionsVllm(YamlView? list) =>
        list?.Items.Any(i => i.Scalar?.Contains("vllm", StringComparison.OrdinalIgnoreCase) == true) == true;

    private static bool References(YamlView? list) =>
        list?.Items.Any(i => i.Scalar?.Contains(K8s.AdditionalArgsEnv, StringComparison.Ordinal) == true) == true;

    /// <summary>Normalizes a flag name: <c>--tensor_parallel_size</c> → <c>--tensor-parallel-size</c>.</summary>
    public static string NormalizeFlag(string flag)
    {
        var dashes = flag.Length - flag.TrimStart('-').Length;
        return flag[..dashes] + flag[dashes..].Replace('_', '-').ToLowerInvariant();
    }

    /// <summary>All occurrences of any of the given flags (spelled with dashes), in order.</summary>
    public IEnumerable<CommandFlag> FindAll(params string[] names)
    {
        for (var i = 0; i < Tokens.Count; i++)
        {
            var t = Tokens[i].Text;
            if (!t.StartsWith('-')) continue;
            var eq = t.IndexOf('=');
            var name = NormalizeFlag(eq > 0 ? t[..eq] : t);
            if (!names.Contains(name)) continue;
            string? value = eq > 0 ? t[(eq + 1)..] : null;
            if (value is null && i + 1 < Tokens.Count && !Tokens[i + 1].Text.StartsWith("--", StringComparison.Ordinal))
                value = Tokens[i + 1].Text;
            yield return new CommandFlag(name, value, Tokens[i]);
        }
    }

    /// <summary>The last occurrence of a flag (the one argparse keeps), or null.</summary>
    public CommandFlag? Find(params string[] names) => FindAll(names).LastOrDefault();

    /// <summary>The model vLLM loads: the positional after <c>serve</c>, else <c>--model</c>.</summary>
    public string? ServedModelPath
    {
        get
        {
            for (var i = 1; i + 1 < Tokens.Count; i++)
                if (Tokens[i].Text == "serve" && Tokens[i - 1].Text.EndsWith("vllm", StringComparison.Ordinal) && !Tokens[i + 1].Text.StartsWith('-'))
                    return Tokens[i + 1].Text;
            return Find("--model")?.Value;
        }
    }

    /// <summary>
    /// Splits one YAML string into words the way a shell would for the simple cases manifests use:
    /// whitespace, single and double quotes, backslash line continuations.
    /// </summary>
    public static IEnumerable<string> ShellWords(string text)
    {
        var words = new List<string>();
        var sb = new StringBuilder();
        var inWord = false;
        char quote = '\0';
        for (var i = 0; i < text.Length; i++)
        {
            var ch = text[i];
            if (quote != '\0')
            {
                if (ch == quote) quote = '\0';
                else sb.Append(ch);
                continue;
            }
            if (ch == '\\' && i + 1 < text.Length && text[i + 1] is '\n' or '\r')
            {
                i++;
                if (text[i] == '\r' && i + 1 < text.Length && text[i + 1] == '\n') i++;
                continue;
            }
            if (ch is '\'' or '"') { quote = ch; inWord = true; continue; }
            if (char.IsWhiteSpace(ch))
            {
                if (inWord) { words.Add(sb.ToString()); sb.Clear(); inWord = false; }
                continue;
            }
            sb.Append(ch);
            inWord = true;
        }
        if (inWord) words.Add(sb.ToString());
        return words;
    }
}
