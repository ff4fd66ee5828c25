using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using RhaiiGke.Engine.Kube.Json;

namespace RhaiiGke.Engine.Simulators.KubeApi;

/// <summary>
/// The create-only review resources kubectl's <c>auth can-i</c> and <c>auth whoami</c> post:
/// authorization.k8s.io/v1 SelfSubjectAccessReview and authentication.k8s.io/v1 SelfSubjectReview.
/// The sandbox has one user, its admin, in system:masters (allowed everything by the privileged-group authorizer).
/// Nothing is stored; the reviewed object comes back with its status filled in.
/// </summary>
internal static class AuthReviews
{
    public const string AdminUser = "rhaii-sandbox-admin";
    public static readonly string[] AdminGroups = ["system:masters", "system:authenticated"];

    public static bool Matches(string[] s) =>
        s.Length == 4 && s[0] == "apis" &&
        ((s[1] == "authorization.k8s.io" && s[2] == "v1" && s[3] == "selfsubjectaccessreviews") ||
         (s[1] == "authentication.k8s.io" && s[2] == "v1" && s[3] == "selfsubjectreviews"));

    /// <summary>Handles the request; returns the status code and body to write.</summary>
    public static (int Code, JsonObject Body) Handle(string method, string resource, string contentType, string body)
    {
        if (method != "POST") throw StatusError.MethodNotAllowed();
        if (contentType.Contains("protobuf", StringComparison.Ordinal))
            throw new StatusError(415, "UnsupportedMediaType", $"the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (the simulator does not decode {contentType})");
        JsonObject obj;
        try { obj = string.IsNullOrWhiteSpace(body) ? new JsonObject() : KJson.ParseObject(body); }
        catch (System.Text.Json.JsonException ex) { throw StatusError.BadRequest("error decoding the request body: " + ex.Message); }
        return resource == "selfsubjectreviews" ? Whoami(obj) : CanI(obj);
    }

    private static (int, JsonObject) Whoami(JsonObject obj)
    {
        if (obj.Str("kind") is { } k && k != "SelfSubjectReview")
            throw StatusError.BadRequest($"the API version in the data (authentication.k8s.io/v1) does not match the expected API version (authentication.k8s.io/v1), or kind {k} is not SelfSubjectReview");
        return (201, new JsonObject
        {
            ["kind"] = "SelfSubjectReview", ["apiVersion"] = "authentication.k8s.io/v1",
            ["metadata"] = new JsonObject { ["creationTimestamp"] = null },
            ["status"] = new JsonObject
            {
                ["userInfo"] = new JsonObject
                {
                    ["username"] = AdminUser,
                    ["groups"] = new JsonArray(AdminGroups.Select(g => (JsonNode)g).ToArray()),
                },
            },
        });
    }

    private static (int, JsonObject) CanI(JsonObject obj)
    {
        var spec = obj.Obj("spec");
        var res = spec?.Obj("resourceAttributes");
        var nonRes = spec?.Obj("nonResourceAttributes");
        if ((res is null) == (nonRes is null))
            throw new StatusError(422, "Invalid",
                "SelfSubjectAccessReview.authorization.k8s.io \"\" is invalid: spec.resourceAttributes: Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must be specified",
                new JsonObject
                {
                    ["group"] = "authorization.k8s.io", ["kind"] = "SelfSubjectAccessReview",
                    ["causes"] = new JsonArray(new JsonObject { ["reason"] = "FieldValueInvalid", ["message"] = "Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must be specified", ["field"] = "spec.resourceAttributes" }),
                });
        var result = (JsonObject)obj.DeepClone();
        result["kind"] = "SelfSubjectAccessReview";
        result["apiVersion"] = "authorization.k8s.io/v1";
        result["metadata"] = new JsonObject { ["creationTimestamp"] = null };
        // system:masters is allowed everything by the privileged-group authorizer, which gives no reason
        result["status"] = new JsonObject { ["allowed"] = true };
        return (201, result);
    }

    public static async Task ServeAsync(HttpListenerContext ctx, string[] s)
    {
        string body;
        using (var reader = new StreamReader(ctx.Request.InputStream, Encoding.UTF8)) body = await reader.ReadToEndAsync().ConfigureAwait(false);
        var (code, obj) = Handle(ctx.Request.HttpMethod.ToUpperInvariant(), s[3], ctx.Request.ContentType ?? "", body);
        var bytes = obj.Utf8();
        var res = ctx.Response;
        res.StatusCode = code;
        res.ContentType = "application/json";
        res.ContentLength64 = bytes.Length;
        await res.OutputStream.WriteAsync(bytes).ConfigureAwait(false);
        res.Close();
    }
}
