using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using RhaiiGke.Engine.Kube.Json;

namespace RhaiiGke.Engine.Kube;

/// <summary>
/// Which parts of a Kubernetes object hold credentials, and how to keep them out of text. A Secret's
/// <c>data</c> and <c>stringData</c> values, any field or list entry named like a credential (token,
/// password, API key, <c>.dockerconfigjson</c>, Authorization ...) and any value that looks like one
/// (a registry auth document, a bearer header) are sensitive: diffs name them and say "changed", and
/// every sensitive value of an apply run (plain, base64, and the pieces of a registry auth document) is
/// scrubbed from messages the server sends back before they reach an error, a log line or a result.
/// </summary>
internal static class SecretRedaction
{
    public const string Redacted = "[redacted]";

    private static readonly Regex SensitiveName = new(
        @"token(?!s|iz)|secret|passw|pwd|api[-_]?key|private[-_]?key|access[-_]?key|credential|authorization|dockerconfigjson|dockercfg|^auths?$|^\.?auth$|bearer|^tls\.key$|^ssh-privatekey$",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);

    /// <summary>Names that only point at a secret (secretName, secretKeyRef, imagePullSecrets, tokenPath ...), not hold one.</summary>
    private static readonly Regex ReferenceName = new(
        @"(name|names|ref|refs|namespace|secrets|path|file|url|uri|audience|expirationseconds|type|mode)$|^automount",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);

    private static readonly Regex CredentialValue = new(
        @"""auths""\s*:|^\s*(bearer|basic)\s+\S|^hf_[A-Za-z0-9]{6,}|^(ghp|gho|github_pat|glpat|xox[bap]|sk)[-_][A-Za-z0-9_-]{8,}|-----BEGIN [A-Z ]*PRIVATE KEY-----|^ya29\.",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);

    /// <summary>Whether a field or list-entry name names a credential (not a reference to one).</summary>
    public static bool IsSensitiveName(string? name) =>
        !string.IsNullOrEmpty(name) && SensitiveName.IsMatch(name) && !(ReferenceName.IsMatch(name) && !IsAlwaysSensitive(name));

    private static bool IsAlwaysSensitive(string name) =>
        name.Contains("dockerconfigjson", StringComparison.OrdinalIgnoreCase) || name.Equals("tls.key", StringComparison.OrdinalIgnoreCase) ||
        name.Equals("ssh-privatekey", StringComparison.OrdinalIgnoreCase) || name.Equals("auth", StringComparison.OrdinalIgnoreCase);

    /// <summary>Whether a value looks like a credential whatever its field is called (base64 of one too).</summary>
    public static bool LooksLikeCredential(string? value)
    {
        if (string.IsNullOrEmpty(value)) return false;
        if (CredentialValue.IsMatch(value)) return true;
        return TryBase64(value) is { } decoded && CredentialValue.IsMatch(decoded);
    }

    /// <summary>Whether the top-level field <paramref name="field"/> of an object of <paramref name="kind"/> holds secret values.</summary>
    public static bool IsSecretPayload(string? kind, string field) => kind == "Secret" && field is "data" or "stringData";

    /// <summary>A copy of <paramref name="obj"/> with every sensitive value replaced by <see cref="Redacted"/> (for messages that quote an object).</summary>
    public static JsonObject RedactObject(JsonObject obj)
    {
        var c = obj.Clone();
        var kind = c.Str("kind");
        foreach (var (k, v) in c.ToList())
            c[k] = RedactNode(v?.DeepClone(), IsSecretPayload(kind, k));
        return c;
    }

    private static JsonNode? RedactNode(JsonNode? node, bool sensitive)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (k, v) in o.ToList()) o[k] = RedactNode(v?.DeepClone(), sensitive || IsSensitiveName(k) || IsSensitiveEntry(o));
                return o;
            case JsonArray a:
                for (var i = 0; i < a.Count; i++) a[i] = RedactNode(a[i]?.DeepClone(), sensitive);
                return a;
            case JsonValue v:
                return sensitive || v.GetValueKind() == JsonValueKind.String && LooksLikeCredential(v.ToString()) ? JsonValue.Create(Redacted) : v.DeepClone();
        }
        return node;
    }

    /// <summary>An env-style entry (<c>name: HF_TOKEN, value: ...</c>) whose name is a credential.</summary>
    public static bool IsSensitiveEntry(JsonObject o) =>
        o["name"] is JsonValue n && n.GetValueKind() == JsonValueKind.String && IsSensitiveName(n.ToString()) && o.ContainsKey("value");

    /// <summary>
    /// Every sensitive string in <paramref name="objects"/>, as it may show in text: the value, its base64,
    /// the base64-decoded value, and for registry auth documents each auth, password and identity token
    /// (and the password inside a base64 user:password). Short values (under 4 characters) are left out.
    /// </summary>
    public static HashSet<string> CollectValues(IEnumerable<JsonObject> objects)
    {
        var set = new HashSet<string>(StringComparer.Ordinal);
        foreach (var o in objects)
        {
            var kind = o.Str("kind");
            foreach (var (k, v) in o) Collect(v, IsSecretPayload(kind, k), set);
        }
        return set;
    }

    private static void Collect(JsonNode? node, bool sensitive, HashSet<string> set)
    {
        switch (node)
        {
            case JsonObject o:
                var entry = IsSensitiveEntry(o);
                foreach (var (k, v) in o) Collect(v, sensitive || IsSensitiveName(k) || entry && k == "value", set);
                break;
            case JsonArray a:
                foreach (var v in a) Collect(v, sensitive, set);
                break;
            case JsonValue v when v.GetValueKind() == JsonValueKind.String:
                var s = v.ToString();
                if (sensitive || LooksLikeCredential(s)) AddValue(s, set);
                break;
        }
    }

    /// <summary>Adds a secret value in every form it may be quoted in.</summary>
    public static void AddValue(string? value, HashSet<string> set)
    {
        if (string.IsNullOrEmpty(value) || value.Length < 4 || value.Contains(ManifestsPlaceholder, StringComparison.Ordinal) && value.Length < 64) return;
        if (!set.Add(value)) return;
        set.Add(Convert.ToBase64String(Encoding.UTF8.GetBytes(value)));
        // JSON-escaped forms (a server quoting the object escapes quotes)
        var escaped = JsonSerializer.Serialize(value)[1..^1];
        if (escaped != value) set.Add(escaped);
        if (TryBase64(value) is { } decoded) AddValue(decoded, set);
        if (value.Contains("auths", StringComparison.Ordinal)) AddDockerConfig(value, set);
        var colon = value.IndexOf(':');
        if (colon > 0 && colon < value.Length - 4 && !value.Contains('{') && !value.Contains(' ')) AddValue(value[(colon + 1)..], set); // user:password
    }

    private const string ManifestsPlaceholder = "REPLACE_ME";

    private static void AddDockerConfig(string json, HashSet<string> set)
    {
        try
        {
            if (JsonNode.Parse(json) is not JsonObject doc || doc["auths"] is not JsonObject auths) return;
            foreach (var (_, entry) in auths)
                foreach (var field in new[] { "auth", "password", "identitytoken", "registrytoken" })
                    if (entry?[field] is JsonValue fv && fv.GetValueKind() == JsonValueKind.String) AddValue(fv.ToString(), set);
        }
        catch (JsonException) { }
    }

    private static readonly Regex AuthorizationValue = new(@"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=-]{8,}", RegexOptions.CultureInvariant);

    /// <summary><paramref name="text"/> with the credentials of any quoted Authorization header (Bearer, Basic) replaced.</summary>
    public static string ScrubAuthorization(string text) =>
        string.IsNullOrEmpty(text) ? text : AuthorizationValue.Replace(text, m => m.Groups[1].Value + m.Groups[2].Value + Redacted);

    /// <summary><paramref name="text"/> with every value of <paramref name="secrets"/> replaced by <see cref="Redacted"/> (longest first), and quoted Authorization credentials.</summary>
    public static string Scrub(string text, IReadOnlyCollection<string> secrets)
    {
        text = ScrubAuthorization(text);
        if (string.IsNullOrEmpty(text) || secrets.Count == 0) return text;
        foreach (var s in secrets.OrderByDescending(s => s.Length))
            if (text.Contains(s, StringComparison.Ordinal)) text = text.Replace(s, Redacted, StringComparison.Ordinal);
        return text;
    }

    private static string? TryBase64(string value)
    {
        if (value.Length < 8 || value.Length % 4 != 0) return null;
        var buffer = new byte[value.Length];
        if (!Convert.TryFromBase64String(value, buffer, out var n)) return null;
        try
        {
            var text = new UTF8Encoding(false, true).GetString(buffer, 0, n);
            return text.Any(ch => char.IsControl(ch) && ch is not ('\n' or '\r' or '\t')) ? null : text;
        }
        catch (DecoderFallbackException) { return null; }
    }
}
