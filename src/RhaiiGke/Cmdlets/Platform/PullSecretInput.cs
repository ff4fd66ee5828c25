using System.Management.Automation;
using System.Security;
using System.Text;
using System.Text.Json;

namespace RhaiiGke.Cmdlets.Platform;

/// <summary>
/// Reads registry credentials for a kubernetes.io/dockerconfigjson pull secret from -PullSecretFile,
/// -UseSystemAuth (podman/docker auth.json) or -RegistryCredential, into a SecureString. Shared by
/// Install-RhaiiOperators and Deploy-LlmInferenceService.
/// </summary>
internal static class PullSecretInput
{
    public static SecureString? Read(PSCmdlet cmdlet, string? file, bool useSystemAuth, PSCredential? credential, string registry)
    {
        string? json = null;
        if (file is not null)
        {
            var path = cmdlet.GetUnresolvedProviderPathFromPSPath(file);
            if (!File.Exists(path))
                throw new RhaiiException("PullSecretFileNotFound", RhaiiErrorCategory.ObjectNotFound, $"Pull secret file '{path}' does not exist.", "Pass a .dockerconfigjson or podman auth.json file.", path);
            json = File.ReadAllText(path);
        }
        else if (useSystemAuth)
        {
            var path = SystemAuthFile()
                ?? throw new RhaiiException("SystemAuthNotFound", RhaiiErrorCategory.ObjectNotFound,
                    "No podman or docker auth.json found (REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json, ~/.config/containers/auth.json, ~/.docker/config.json).",
                    $"Run 'podman login {registry}' first, or pass -PullSecretFile or -RegistryCredential.");
            json = File.ReadAllText(path);
        }
        else if (credential is not null)
        {
            var auth = Convert.ToBase64String(Encoding.UTF8.GetBytes(credential.UserName + ":" + credential.GetNetworkCredential().Password));
            json = JsonSerializer.Serialize(new Dictionary<string, object> { ["auths"] = new Dictionary<string, object> { [registry] = new Dictionary<string, string> { ["auth"] = auth } } });
        }
        if (json is null) return null;
        try
        {
            using var doc = JsonDocument.Parse(json);
            if (!doc.RootElement.TryGetProperty("auths", out _))
                throw new RhaiiException("PullSecretInvalid", RhaiiErrorCategory.InvalidData, "The pull secret has no \"auths\" section.", "Pass a .dockerconfigjson / auth.json document.");
        }
        catch (JsonException)
        {
            throw new RhaiiException("PullSecretInvalid", RhaiiErrorCategory.InvalidData, "The pull secret is not JSON.", "Pass a .dockerconfigjson / auth.json document.");
        }
        var secure = new SecureString();
        foreach (var ch in json) secure.AppendChar(ch);
        secure.MakeReadOnly();
        return secure;
    }

    private static string? SystemAuthFile()
    {
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        var candidates = new[]
        {
            Environment.GetEnvironmentVariable("REGISTRY_AUTH_FILE"),
            Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR") is { } x ? Path.Combine(x, "containers", "auth.json") : null,
            Path.Combine(home, ".config", "containers", "auth.json"),
            Path.Combine(home, ".docker", "config.json"),
        };
        return candidates.FirstOrDefault(c => c is not null && File.Exists(c));
    }
}
