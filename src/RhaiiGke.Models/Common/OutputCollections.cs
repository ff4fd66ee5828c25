using System.Collections;
using System.Collections.ObjectModel;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace RhaiiGke;

/// <summary>
/// The read-only list behind every collection property of a result object. It behaves as the array it
/// replaces (indexer, <see cref="Length"/> and <see cref="ReadOnlyCollection{T}.Count"/>, enumeration,
/// ConvertTo-Json writes a JSON array, Export-Clixml a list) and its <see cref="ToString"/> is the items
/// joined by "; ", so <c>Export-Csv</c> writes a readable cell instead of a .NET type name.
/// </summary>
[CollectionBuilder(typeof(RhaiiList), nameof(RhaiiList.Create))]
[JsonConverter(typeof(OutputCollectionJsonConverter))]
public sealed class RhaiiList<T> : ReadOnlyCollection<T>
{
    /// <summary>Longer lists are summarized as "N items" in <see cref="ToString"/> (a CSV cell stays readable).</summary>
    public const int MaxJoinedItems = 32;

    public static new RhaiiList<T> Empty { get; } = new([]);

    public RhaiiList(IList<T> items) : base(items) { }

    /// <summary>The number of items, as an array's Length (scripts written against arrays keep working).</summary>
    public int Length => Count;

    public static implicit operator RhaiiList<T>(T[]? items) => items is null ? null! : items.Length == 0 ? Empty : new RhaiiList<T>(items);
    public static implicit operator RhaiiList<T>(List<T>? items) => items is null ? null! : items.Count == 0 ? Empty : new RhaiiList<T>(items.ToArray());

    public T[] ToArray() => [.. this];

    public override string ToString()
    {
        if (Count > MaxJoinedItems) return $"{Count} items";
        return string.Join("; ", this.Select(Text));
    }

    internal static string Text(T item) => item switch
    {
        null => "",
        double d => d.ToString("0.###", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => item.ToString() ?? "",
    };
}

/// <summary>Builds <see cref="RhaiiList{T}"/> from collection expressions (<c>[a, b]</c>).</summary>
public static class RhaiiList
{
    public static RhaiiList<T> Create<T>(ReadOnlySpan<T> items) => items.Length == 0 ? RhaiiList<T>.Empty : new RhaiiList<T>(items.ToArray());
}

/// <summary>
/// The read-only string-keyed map behind every dictionary property of a result object: ConvertTo-Json writes a
/// JSON object (string keys at any depth), Export-Clixml a hashtable, and <see cref="ToString"/> is
/// "key=value; key=value", so <c>Export-Csv</c> writes a readable cell.
/// </summary>
[JsonConverter(typeof(OutputCollectionJsonConverter))]
public sealed class RhaiiMap<TValue> : ReadOnlyDictionary<string, TValue>
{
    public static new RhaiiMap<TValue> Empty { get; } = new(new Dictionary<string, TValue>());

    public RhaiiMap(IDictionary<string, TValue> items) : base(items) { }

    public static implicit operator RhaiiMap<TValue>(Dictionary<string, TValue>? items) => items is null ? null! : new RhaiiMap<TValue>(items);

    public override string ToString() =>
        string.Join("; ", this.OrderBy(kv => kv.Key, StringComparer.OrdinalIgnoreCase).Select(kv => $"{kv.Key}={RhaiiList<TValue>.Text(kv.Value)}"));
}

/// <summary>System.Text.Json reads and writes <see cref="RhaiiList{T}"/> as a JSON array and <see cref="RhaiiMap{TValue}"/> as an object.</summary>
public sealed class OutputCollectionJsonConverter : JsonConverterFactory
{
    public override bool CanConvert(Type typeToConvert) =>
        typeToConvert.IsGenericType && typeToConvert.GetGenericTypeDefinition() is var d && (d == typeof(RhaiiList<>) || d == typeof(RhaiiMap<>));

    public override JsonConverter CreateConverter(Type typeToConvert, JsonSerializerOptions options)
    {
        var arg = typeToConvert.GetGenericArguments()[0];
        var converter = typeToConvert.GetGenericTypeDefinition() == typeof(RhaiiList<>)
            ? typeof(ListConverter<>).MakeGenericType(arg)
            : typeof(MapConverter<>).MakeGenericType(arg);
        return (JsonConverter)Activator.CreateInstance(converter)!;
    }

    private sealed class ListConverter<T> : JsonConverter<RhaiiList<T>>
    {
        public override RhaiiList<T>? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            JsonSerializer.Deserialize<List<T>>(ref reader, options);

        public override void Write(Utf8JsonWriter writer, RhaiiList<T> value, JsonSerializerOptions options) =>
            JsonSerializer.Serialize<IEnumerable<T>>(writer, value, options);
    }

    private sealed class MapConverter<TValue> : JsonConverter<RhaiiMap<TValue>>
    {
        public override RhaiiMap<TValue>? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            JsonSerializer.Deserialize<Dictionary<string, TValue>>(ref reader, options);

        public override void Write(Utf8JsonWriter writer, RhaiiMap<TValue> value, JsonSerializerOptions options) =>
            JsonSerializer.Serialize<IReadOnlyDictionary<string, TValue>>(writer, value, options);
    }
}
