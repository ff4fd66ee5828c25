using System.Buffers;
using System.Text.Json;

namespace RhaiiGke.Engine.Inference;

/// <summary>One prompt of a benchmark dataset.</summary>
internal sealed class BenchPrompt
{
    /// <summary>Prompt text (completions) or the user message (chat).</summary>
    public string Text { get; init; } = "";
    /// <summary>A full chat messages array as JSON, when the dataset gave one; sent as is.</summary>
    public string? MessagesJson { get; init; }
    /// <summary>Prompt length by the dataset's own count (replaced by usage.prompt_tokens when the server reports it).</summary>
    public int PromptTokens { get; init; }
    public int OutputTokens { get; init; }
    /// <summary>Shared-prefix group, -1 when none.</summary>
    public int Group { get; init; } = -1;
}

/// <summary>Builds OpenAI request bodies the way vLLM's benchmark client does.</summary>
internal static class OpenAiRequests
{
    public static string Path(InferenceApi api) => api == InferenceApi.Chat ? "/v1/chat/completions" : "/v1/completions";

    public static byte[] Body(InferenceApi api, string model, BenchPrompt p, bool stream, bool ignoreEos, int? maxTokens = null)
    {
        var buf = new ArrayBufferWriter<byte>(p.Text.Length + 256);
        using (var w = new Utf8JsonWriter(buf))
        {
            w.WriteStartObject();
            w.WriteString("model"u8, model);
            if (api == InferenceApi.Chat)
            {
                if (p.MessagesJson is { } raw)
                {
                    w.WritePropertyName("messages"u8);
                    w.WriteRawValue(raw, skipInputValidation: false);
                }
                else
                {
                    w.WriteStartArray("messages"u8);
                    w.WriteStartObject();
                    w.WriteString("role"u8, "user"u8);
                    w.WriteString("content"u8, p.Text);
                    w.WriteEndObject();
                    w.WriteEndArray();
                }
            }
            else w.WriteString("prompt"u8, p.Text);
            var max = maxTokens ?? p.OutputTokens;
            if (max > 0) w.WriteNumber("max_tokens"u8, max);
            if (ignoreEos) w.WriteBoolean("ignore_eos"u8, true);
            w.WriteBoolean("stream"u8, stream);
            if (stream)
            {
                w.WriteStartObject("stream_options"u8);
                w.WriteBoolean("include_usage"u8, true);
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        return buf.WrittenSpan.ToArray();
    }
}
