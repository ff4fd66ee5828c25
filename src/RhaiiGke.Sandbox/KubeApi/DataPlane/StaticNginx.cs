using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using RhaiiGke.Sandbox.Vllm;

namespace RhaiiGke.Sandbox.KubeApi.DataPlane;

/// <summary>
/// A ready pod of the Red Hat UBI nginx image (registry.access.redhat.com/ubi9/nginx-1xx, sclorg nginx-container) as it
/// serves static files: the image's default server listens on 8080 and includes <c>/opt/app-root/etc/nginx.default.d/*.conf</c>;
/// the files the pod sees are its ConfigMap volumes as mounted when the container started (a later ConfigMap change reaches
/// a running pod only after the kubelet's sync, so the sandbox keeps the start-time copy: a list that must change needs a new
/// pod). Understood in those snippets: <c>location = /uri { alias /file; default_type t; }</c> and <c>return code 'text';</c>.
/// GET and HEAD of a mapped file answer 200 with the file (Content-Type from the extension as nginx's mime.types, else
/// default_type); other methods 405; the image's own CMD (the s2i usage script) serves nothing, so the container must run nginx; anything else, or a file the mounts do not hold, 404 with nginx's page. A snippet nginx
/// would reject (unbalanced braces, a location without a URI) keeps nginx from starting: no server listens.
/// </summary>
internal sealed partial class StaticNginx : IDisposable
{
    public const string ImageRepositoryPrefix = "registry.access.redhat.com/ubi9/nginx-";
    public const string AltImageRepositoryPrefix = "registry.redhat.io/ubi9/nginx-";
    public const int Port = 8080;
    private const string ServerConfDir = "/opt/app-root/etc/nginx.default.d";
    private readonly SimHttpServer _server;
    private readonly Dictionary<string, (string? Alias, string? Type, int? Return, string? Text)> _locations;
    private readonly Dictionary<string, string> _files;

    private StaticNginx(Dictionary<string, string> files, Dictionary<string, (string?, string?, int?, string?)> locations)
    {
        _files = files;
        _locations = locations;
        _server = new SimHttpServer(HandleAsync);
    }

    public int ListenPort => _server.Port;

    public static bool Runs(JsonObject pod) => Container(pod) is not null;

    private static JsonObject? Container(JsonObject pod) =>
        (pod.Arr("spec", "containers") ?? []).OfType<JsonObject>().FirstOrDefault(c => (c.Str("image") ?? "") is var i
            && (i.StartsWith(ImageRepositoryPrefix, StringComparison.Ordinal) || i.StartsWith(AltImageRepositoryPrefix, StringComparison.Ordinal)));

    /// <summary>Starts nginx for the pod with its mounted files read now; null when its configuration would not load.</summary>
    public static StaticNginx? Start(SimCore core, JsonObject pod) =>
        Load(core, pod) is { } loaded ? new StaticNginx(loaded.Files, loaded.Locations) : null;

    /// <summary>
    /// What the kubelet's readiness probe of the nginx container gets, the way nginx would answer it with the pod's
    /// files: null when the probe passes (or there is no httpGet probe on the nginx port), else the kubelet's failure
    /// message (connection refused when nginx does not run, the status code when the path does not answer 2xx/3xx).
    /// </summary>
    public static string? ReadinessFailure(SimCore core, JsonObject pod, string podIp)
    {
        var c = Container(pod);
        if (c?.Obj("readinessProbe", "httpGet") is not { } get) return null;
        var portNode = get["port"];
        var port = portNode is JsonValue pv && pv.TryGetValue<int>(out var n) ? n
            : (c.Arr("ports") ?? []).OfType<JsonObject>().FirstOrDefault(x => x.Str("name") == portNode?.ToString()).Long("containerPort") is { } named ? (int)named : -1;
        if (port != Port) return null;
        var path = get.Str("path") ?? "/";
        var url = $"http://{podIp}:{port}{path}";
        if (Load(core, pod) is not { } loaded) return $"Get \"{url}\": dial tcp {podIp}:{port}: connect: connection refused";
        var status = new Answer(loaded.Files, loaded.Locations).Status("GET", path);
        return status is >= 200 and < 400 ? null : $"HTTP probe failed with statuscode: {status}";
    }

    /// <summary>The status nginx gives a request, from its files and exact locations.</summary>
    private readonly record struct Answer(Dictionary<string, string> Files, Dictionary<string, (string? Alias, string? Type, int? Return, string? Text)> Locations)
    {
        public int Status(string method, string path) =>
            !Locations.TryGetValue(path, out var loc) ? 404
            : loc.Return is { } code ? code
            : method is not ("GET" or "HEAD") ? 405
            : loc.Alias is { } file && Files.ContainsKey(file) ? 200 : 404;
    }

    private static (Dictionary<string, string> Files, Dictionary<string, (string?, string?, int?, string?)> Locations)? Load(SimCore core, JsonObject pod)
    {
        var c = Container(pod);
        if (c is null) return null;
        // the image's default CMD is the s2i usage script (prints help, exits): only an nginx command serves
        var command = string.Join(' ', (c.Arr("command") ?? []).Concat(c.Arr("args") ?? []).Select(a => a?.ToString()));
        if (!command.StartsWith("nginx", StringComparison.Ordinal) && !command.Contains("/nginx ", StringComparison.Ordinal)) return null;
        var files = new Dictionary<string, string>(StringComparer.Ordinal);
        var volumes = (pod.Arr("spec", "volumes") ?? []).OfType<JsonObject>().ToDictionary(v => v.Str("name") ?? "", StringComparer.Ordinal);
        foreach (var mount in (c.Arr("volumeMounts") ?? []).OfType<JsonObject>())
        {
            if (!volumes.TryGetValue(mount.Str("name") ?? "", out var vol) || vol.Obj("configMap") is not { } cmRef) continue;
            var cm = core.Peek("", "configmaps", pod.Namespace(), cmRef.Str("name") ?? "");
            var data = cm?.Obj("data");
            if (data is null) continue;
            var dir = (mount.Str("mountPath") ?? "/").TrimEnd('/');
            if (mount.Str("subPath") is { Length: > 0 } sub)
            {
                if (data[sub] is JsonValue sv && sv.TryGetValue<string>(out var subText)) files[dir] = subText;
                continue;
            }
            var items = (cmRef.Arr("items") ?? []).OfType<JsonObject>().ToList();
            if (items.Count > 0)
            {
                foreach (var item in items)
                    if (data[item.Str("key") ?? ""] is JsonValue iv && iv.TryGetValue<string>(out var text)) files[$"{dir}/{item.Str("path")}"] = text;
            }
            else
            {
                foreach (var (key, value) in data)
                    if (value is JsonValue v && v.TryGetValue<string>(out var text)) files[$"{dir}/{key}"] = text;
            }
        }
        var locations = new Dictionary<string, (string?, string?, int?, string?)>(StringComparer.Ordinal);
        foreach (var (path, text) in files.Where(f => f.Key.StartsWith(ServerConfDir + "/", StringComparison.Ordinal) && f.Key.EndsWith(".conf", StringComparison.Ordinal)))
            if (!Parse(text, locations)) return null;
        return (files, locations);
    }

    [GeneratedRegex(@"location\s+=\s*(\S+)\s*\{([^{}]*)\}", RegexOptions.Singleline)] private static partial Regex ExactLocation();
    [GeneratedRegex(@"^\s*(alias|default_type|return)\s+([^;]*);\s*$")] private static partial Regex Directive();

    private static bool Parse(string text, Dictionary<string, (string?, string?, int?, string?)> locations)
    {
        if (text.Count(ch => ch == '{') != text.Count(ch => ch == '}')) return false;
        var rest = ExactLocation().Replace(text, m =>
        {
            string? alias = null, type = null, body = null;
            int? code = null;
            foreach (var statement in m.Groups[2].Value.Split(';').Select(s => s.Trim()).Where(s => s.Length > 0))
            {
                var d = Directive().Match(statement + ";");
                if (!d.Success) continue;
                var arg = d.Groups[2].Value.Trim();
                switch (d.Groups[1].Value)
                {
                    case "alias": alias = arg; break;
                    case "default_type": type = arg; break;
                    case "return":
                        var parts = arg.Split(' ', 2, StringSplitOptions.TrimEntries);
                        code = int.TryParse(parts[0], System.Globalization.CultureInfo.InvariantCulture, out var n) ? n : null;
                        body = parts.Length > 1 ? parts[1].Trim('\'', '"') : null;
                        break;
                }
            }
            locations[m.Groups[1].Value] = (alias, type, code, body);
            return "";
        });
        // a location this model does not know is left out (404), but "location {" without a URI fails nginx -t
        return !Regex.IsMatch(rest, @"location\s*\{");
    }

    private async ValueTask HandleAsync(SimHttpConnection c, SimHttpRequest req)
    {
        var status = new Answer(_files, _locations).Status(req.Method, req.Path);
        _locations.TryGetValue(req.Path, out var loc);
        string type = "text/html", body;
        if (loc.Return is not null) (type, body) = (loc.Type ?? "application/octet-stream", loc.Text ?? "");
        else if (status == 200)
        {
            var file = loc.Alias!;
            (type, body) = (file.EndsWith(".json", StringComparison.Ordinal) ? "application/json" : file.EndsWith(".html", StringComparison.Ordinal) ? "text/html" : loc.Type ?? "application/octet-stream", _files[file]);
        }
        else body = status == 405 ? Page(405, "Not Allowed") : Page(404, "Not Found");
        req.Status = status;
        var bytes = Encoding.UTF8.GetBytes(body);
        var head = new StringBuilder();
        head.Append("HTTP/1.1 ").Append(status).Append(' ').Append(status switch { 200 => "OK", 404 => "Not Found", 405 => "Not Allowed", _ => "Status" }).Append("\r\n");
        head.Append("Server: nginx/1.24.0\r\n");
        head.Append("Date: ").Append(DateTime.UtcNow.ToString("R", System.Globalization.CultureInfo.InvariantCulture)).Append("\r\n");
        head.Append("Content-Type: ").Append(type).Append("\r\n");
        head.Append("Content-Length: ").Append(bytes.Length).Append("\r\n");
        head.Append(req.KeepAlive ? "Connection: keep-alive\r\n" : "Connection: close\r\n");
        head.Append("\r\n");
        await c.SendAsync(Encoding.ASCII.GetBytes(head.ToString())).ConfigureAwait(false);
        if (req.Method != "HEAD" && bytes.Length > 0) await c.SendAsync(bytes).ConfigureAwait(false);
    }

    private static string Page(int code, string reason) =>
        $"<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n<center><h1>{code} {reason}</h1></center>\r\n<hr><center>nginx/1.24.0</center>\r\n</body>\r\n</html>\r\n";

    public void Dispose() => _server.Dispose();
}
