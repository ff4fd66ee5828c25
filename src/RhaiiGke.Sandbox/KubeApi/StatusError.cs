using System.Text.Json.Nodes;

namespace RhaiiGke.Sandbox.KubeApi;

/// <summary>An API error rendered as a metav1.Status body with the apiserver's reason and wording.</summary>
internal sealed class StatusError : Exception
{
    public int Code { get; }
    public string Reason { get; }
    public JsonObject? Details { get; }
    public int? RetryAfterSeconds { get; init; }

    public StatusError(int code, string reason, string message, JsonObject? details = null) : base(message)
    {
        Code = code;
        Reason = reason;
        Details = details;
    }

    public JsonObject ToStatus()
    {
        var s = new JsonObject
        {
            ["kind"] = "Status",
            ["apiVersion"] = "v1",
            ["metadata"] = new JsonObject(),
            ["status"] = "Failure",
            ["message"] = Message,
            ["reason"] = Reason,
        };
        if (Details is not null) s["details"] = Details.DeepClone();
        else if (Reason != "") s["details"] = new JsonObject();
        if (RetryAfterSeconds is { } ra)
        {
            var d = (s["details"] as JsonObject) ?? new JsonObject();
            d["retryAfterSeconds"] = ra;
            s["details"] = d;
        }
        s["code"] = Code;
        return s;
    }

    private static JsonObject D(ResourceType t, string? name) => new()
    {
        ["name"] = name,
        ["group"] = t.Group,
        ["kind"] = t.Plural,
    };

    public static StatusError NotFound(ResourceType t, string name) =>
        new(404, "NotFound", $"{t.GroupResource} \"{name}\" not found", D(t, name));

    public static StatusError NotFound(string groupResource, string name) =>
        new(404, "NotFound", $"{groupResource} \"{name}\" not found", new JsonObject { ["name"] = name, ["kind"] = groupResource });

    /// <summary>What an unknown path gets (no such group, version or resource).</summary>
    public static StatusError NoResource() =>
        new(404, "NotFound", "the server could not find the requested resource", new JsonObject());

    public static StatusError AlreadyExists(ResourceType t, string name) =>
        new(409, "AlreadyExists", $"{t.GroupResource} \"{name}\" already exists", D(t, name));

    public static StatusError Conflict(ResourceType t, string name) =>
        new(409, "Conflict", $"Operation cannot be fulfilled on {t.GroupResource} \"{name}\": the object has been modified; please apply your changes to the latest version and try again", D(t, name));

    public static StatusError Invalid(ResourceType t, string name, IReadOnlyList<(string Field, string Type, string Message)> causes)
    {
        var d = new JsonObject { ["name"] = name, ["group"] = t.Group, ["kind"] = t.Kind };
        var arr = new JsonArray();
        foreach (var c in causes) arr.Add(new JsonObject { ["reason"] = c.Type, ["message"] = c.Message, ["field"] = c.Field });
        d["causes"] = arr;
        var gk = t.Group.Length == 0 ? t.Kind : $"{t.Kind}.{t.Group}";
        var msg = causes.Count == 1
            ? $"{gk} \"{name}\" is invalid: {causes[0].Field}: {causes[0].Message}"
            : $"{gk} \"{name}\" is invalid: [{string.Join(", ", causes.Select(c => $"{c.Field}: {c.Message}"))}]";
        return new StatusError(422, "Invalid", msg, d);
    }

    public static StatusError BadRequest(string message) => new(400, "BadRequest", message);

    public static StatusError MethodNotAllowed(string message = "the server does not allow this method on the requested resource") =>
        new(405, "MethodNotAllowed", message, new JsonObject());

    public static StatusError UnsupportedMediaType(string contentType) =>
        new(415, "UnsupportedMediaType", $"the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {contentType})");

    public static StatusError Internal(string message, JsonObject? details = null) =>
        new(500, "InternalError", "Internal error occurred: " + message, details ?? new JsonObject { ["causes"] = new JsonArray(new JsonObject { ["message"] = message }) });

    public static StatusError Forbidden(ResourceType t, string name, string why) =>
        new(403, "Forbidden", $"{t.GroupResource} \"{name}\" is forbidden: {why}", D(t, name));

    public static StatusError Gone(string message) => new(410, "Expired", message);
}
