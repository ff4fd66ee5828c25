using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace RhaiiGke.Sandbox.KubeApi;

/// <summary>
/// /openapi/v2 as <c>application/com.github.proto-openapi.spec.v2@v1.0+protobuf</c>: the swagger document in the
/// gnostic openapi.v2.Document message, the only encoding kubectl up to 1.27 asks for (explain, client-side
/// validation). Written here with a minimal protobuf writer: the swagger and info fields, and every definition
/// with the Schema fields a schema uses ($ref, format, title, description, default, bounds, required, enum,
/// additionalProperties, type, items, allOf, properties, vendor extensions such as x-kubernetes-group-version-kind).
/// Paths are left out (kubectl reads only the definitions).
/// </summary>
internal static class OpenApiV2Proto
{
    /// <summary>The Content-Type of the answer (the '@' of the requested media type is not valid in a response header).</summary>
    public const string MediaType = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

    public static bool Wants(string? accept) => accept?.Contains("proto-openapi.spec.v2", StringComparison.Ordinal) == true;

    public static byte[] Encode(JsonObject swagger)
    {
        var doc = new Msg();
        doc.String(1, swagger.Str("swagger") ?? "2.0");
        var info = new Msg();
        info.String(1, swagger.Str("info", "title") ?? "Kubernetes");
        info.String(2, swagger.Str("info", "version") ?? "");
        doc.Message(2, info);
        var defs = new Msg();
        foreach (var (name, schema) in swagger.Obj("definitions") ?? [])
        {
            if (schema is not JsonObject so) continue;
            defs.Message(1, Named(name, Schema(so)));
        }
        doc.Message(9, defs);
        return doc.ToArray();
    }

    private static Msg Named(string name, Msg value)
    {
        var m = new Msg();
        m.String(1, name);
        m.Message(2, value);
        return m;
    }

    /// <summary>openapi.v2.Any: the value as YAML text (JSON is YAML).</summary>
    private static Msg Any(JsonNode? value)
    {
        var m = new Msg();
        m.String(2, value?.ToJsonString() ?? "null");
        return m;
    }

    private static Msg Schema(JsonObject s)
    {
        var m = new Msg();
        foreach (var (key, value) in s)
        {
            switch (key)
            {
                case "$ref": m.String(1, value.Str() ?? ""); break;
                case "format": m.String(2, value.Str() ?? ""); break;
                case "title": m.String(3, value.Str() ?? ""); break;
                case "description": m.String(4, value.Str() ?? ""); break;
                case "default": m.Message(5, Any(value)); break;
                case "multipleOf": m.Double(6, Num(value)); break;
                case "maximum": m.Double(7, Num(value)); break;
                case "exclusiveMaximum": m.Bool(8, value.Bool() == true); break;
                case "minimum": m.Double(9, Num(value)); break;
                case "exclusiveMinimum": m.Bool(10, value.Bool() == true); break;
                case "maxLength": m.Int(11, value.Long() ?? 0); break;
                case "minLength": m.Int(12, value.Long() ?? 0); break;
                case "pattern": m.String(13, value.Str() ?? ""); break;
                case "maxItems": m.Int(14, value.Long() ?? 0); break;
                case "minItems": m.Int(15, value.Long() ?? 0); break;
                case "uniqueItems": m.Bool(16, value.Bool() == true); break;
                case "maxProperties": m.Int(17, value.Long() ?? 0); break;
                case "minProperties": m.Int(18, value.Long() ?? 0); break;
                case "required":
                    foreach (var r in value as JsonArray ?? []) m.String(19, r.Str() ?? "");
                    break;
                case "enum":
                    foreach (var e in value as JsonArray ?? []) m.Message(20, Any(e));
                    break;
                case "additionalProperties":
                {
                    var item = new Msg();
                    if (value is JsonObject ap) item.Message(1, Schema(ap));
                    else item.Bool(2, value.Bool() == true);
                    m.Message(21, item);
                    break;
                }
                case "type":
                {
                    var type = new Msg();
                    if (value is JsonArray types) foreach (var t in types) type.String(1, t.Str() ?? "");
                    else type.String(1, value.Str() ?? "");
                    m.Message(22, type);
                    break;
                }
                case "items":
                {
                    var items = new Msg();
                    if (value is JsonArray list) { foreach (var i in list.OfType<JsonObject>()) items.Message(1, Schema(i)); }
                    else if (value is JsonObject one) items.Message(1, Schema(one));
                    m.Message(23, items);
                    break;
                }
                case "allOf":
                    foreach (var a in (value as JsonArray ?? []).OfType<JsonObject>()) m.Message(24, Schema(a));
                    break;
                case "properties":
                {
                    var props = new Msg();
                    foreach (var (pn, pv) in value as JsonObject ?? [])
                        if (pv is JsonObject po) props.Message(1, Named(pn, Schema(po)));
                    m.Message(25, props);
                    break;
                }
                case "discriminator": m.String(26, value.Str() ?? ""); break;
                case "readOnly": m.Bool(27, value.Bool() == true); break;
                case "example": m.Message(30, Any(value)); break;
                default:
                    if (key.StartsWith("x-", StringComparison.Ordinal))
                    {
                        var ext = new Msg();
                        ext.String(1, key);
                        ext.Message(2, Any(value));
                        m.Message(31, ext);
                    }
                    break;
            }
        }
        return m;
    }

    private static double Num(JsonNode? n) =>
        n is JsonValue v && v.GetValueKind() == JsonValueKind.Number && double.TryParse(v.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : 0;

    /// <summary>A protobuf message being written (proto3: fields in any order, length-delimited submessages).</summary>
    private sealed class Msg
    {
        private readonly MemoryStream _b = new();

        private void Varint(ulong v)
        {
            while (v >= 0x80) { _b.WriteByte((byte)(v | 0x80)); v >>= 7; }
            _b.WriteByte((byte)v);
        }

        private void Tag(int field, int wire) => Varint((ulong)((field << 3) | wire));

        public void String(int field, string s)
        {
            var bytes = Encoding.UTF8.GetBytes(s);
            Tag(field, 2);
            Varint((ulong)bytes.Length);
            _b.Write(bytes);
        }

        public void Message(int field, Msg m)
        {
            Tag(field, 2);
            Varint((ulong)m._b.Length);
            m._b.Position = 0;
            m._b.CopyTo(_b);
        }

        public void Bool(int field, bool v) { Tag(field, 0); Varint(v ? 1UL : 0UL); }

        public void Int(int field, long v) { Tag(field, 0); Varint(unchecked((ulong)v)); }

        public void Double(int field, double v)
        {
            Tag(field, 1);
            Span<byte> buf = stackalloc byte[8];
            BinaryPrimitives.WriteDoubleLittleEndian(buf, v);
            _b.Write(buf);
        }

        public byte[] ToArray() => _b.ToArray();
    }
}
