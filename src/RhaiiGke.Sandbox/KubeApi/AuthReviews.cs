using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace RhaiiGke.Sandbox.KubeApi;

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
    public static (int Code, JsonObject Body) Handle(string method, string resource, string contentType, byte[] bodyBytes)
    {
        if (method != "POST") throw StatusError.MethodNotAllowed();
        var body = Encoding.UTF8.GetString(bodyBytes);
        JsonObject obj;
        if (contentType.Contains("protobuf", StringComparison.Ordinal))
            return resource == "selfsubjectreviews" ? Whoami(new JsonObject()) : CanI(Proto.SelfSubjectAccessReview(bodyBytes));
        try { obj = string.IsNullOrWhiteSpace(body) ? new JsonObject() : ServerJson.ParseObject(body); }
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
        using var buffer = new MemoryStream();
        await ctx.Request.InputStream.CopyToAsync(buffer).ConfigureAwait(false);
        var (code, obj) = Handle(ctx.Request.HttpMethod.ToUpperInvariant(), s[3], ctx.Request.ContentType ?? "", buffer.ToArray());
        var bytes = obj.Utf8();
        var res = ctx.Response;
        res.StatusCode = code;
        res.ContentType = "application/json";
        res.ContentLength64 = bytes.Length;
        await res.OutputStream.WriteAsync(bytes).ConfigureAwait(false);
        res.Close();
    }

    /// <summary>
    /// Just enough of the Kubernetes protobuf envelope (magic "k8s\0", runtime.Unknown) and of
    /// authorization/v1 generated.proto to read the spec kubectl auth can-i sends.
    /// </summary>
    private static class Proto
    {
        public static JsonObject SelfSubjectAccessReview(byte[] data)
        {
            if (data.Length < 4 || data[0] != (byte)'k' || data[1] != (byte)'8' || data[2] != (byte)'s' || data[3] != 0)
                throw StatusError.BadRequest("provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]");
            try
            {
                var unknown = Fields(data.AsSpan(4).ToArray());
                var raw = unknown.FirstOrDefault(f => f.Num == 2).Bytes ?? [];
                var review = Fields(raw);
                var spec = new JsonObject();
                var specBytes = review.FirstOrDefault(f => f.Num == 2).Bytes;
                if (specBytes is not null)
                    foreach (var (num, bytes) in Fields(specBytes))
                    {
                        if (num == 1 && bytes is not null)
                            spec["resourceAttributes"] = Strings(bytes, "namespace", "verb", "group", "version", "resource", "subresource", "name");
                        else if (num == 2 && bytes is not null)
                            spec["nonResourceAttributes"] = Strings(bytes, "path", "verb");
                    }
                return new JsonObject { ["kind"] = "SelfSubjectAccessReview", ["apiVersion"] = "authorization.k8s.io/v1", ["spec"] = spec };
            }
            catch (IndexOutOfRangeException) { throw StatusError.BadRequest("unable to decode the protobuf SelfSubjectAccessReview"); }
            catch (ArgumentOutOfRangeException) { throw StatusError.BadRequest("unable to decode the protobuf SelfSubjectAccessReview"); }
        }

        private static JsonObject Strings(byte[] data, params string[] names)
        {
            var o = new JsonObject();
            foreach (var (num, bytes) in Fields(data))
                if (num >= 1 && num <= names.Length && bytes is not null && bytes.Length > 0) o[names[num - 1]] = Encoding.UTF8.GetString(bytes);
            return o;
        }

        /// <summary>Top-level fields: number and, for length-delimited ones, the bytes (varints and fixed are skipped).</summary>
        private static List<(int Num, byte[]? Bytes)> Fields(byte[] data)
        {
            var list = new List<(int, byte[]?)>();
            var i = 0;
            while (i < data.Length)
            {
                var key = Varint(data, ref i);
                var num = (int)(key >> 3);
                switch (key & 7)
                {
                    case 0: Varint(data, ref i); list.Add((num, null)); break;
                    case 1: i += 8; list.Add((num, null)); break;
                    case 5: i += 4; list.Add((num, null)); break;
                    case 2:
                        var len = (int)Varint(data, ref i);
                        list.Add((num, data[i..(i + len)]));
                        i += len;
                        break;
                    default: throw new IndexOutOfRangeException("unsupported wire type");
                }
            }
            return list;
        }

        private static ulong Varint(byte[] data, ref int i)
        {
            ulong v = 0;
            for (var shift = 0; shift < 64; shift += 7)
            {
                var b = data[i++];
                v |= (ulong)(b & 0x7f) << shift;
                if ((b & 0x80) == 0) return v;
            }
            throw new IndexOutOfRangeException("varint too long");
        }
    }
}
