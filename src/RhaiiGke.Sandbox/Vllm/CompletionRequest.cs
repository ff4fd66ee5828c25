using System.Text;
using System.Text.Json;

namespace RhaiiGke.Sandbox.Vllm;

/// <summary>The parts of an OpenAI completion or chat request the simulator acts on.</summary>
internal sealed class CompletionRequest
{
    public bool Chat;
    public string Model = "";
    /// <summary>Prompt text, or the chat messages rendered with the model family's chat template (<see cref="ChatTemplate"/>).</summary>
    public string Prompt = "";
    public int? MaxTokens;
    public bool Stream;
    public bool IncludeUsage;
    public bool ContinuousUsage;
    public bool IgnoreEos;

    /// <summary>Parses the body; returns an error message for a malformed request.</summary>
    public static string? TryParse(ReadOnlyMemory<byte> body, bool chat, out CompletionRequest r)
    {
        r = new CompletionRequest { Chat = chat };
        var messages = new List<ChatTemplate.Message>();
        try
        {
            using var doc = JsonDocument.Parse(body);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) return "The request body must be a JSON object.";
            foreach (var p in root.EnumerateObject())
            {
                switch (p.Name)
                {
                    case "model": r.Model = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString() ?? "" : ""; break;
                    case "max_tokens":
                    case "max_completion_tokens":
                        if (p.Value.ValueKind == JsonValueKind.Number)
                        {
                            if (!p.Value.TryGetInt32(out var m) || m < 1) return $"{p.Name} must be at least 1, got {p.Value.GetRawText()}.";
                            r.MaxTokens = m;
                        }
                        break;
                    case "stream": r.Stream = p.Value.ValueKind == JsonValueKind.True; break;
                    case "ignore_eos": r.IgnoreEos = p.Value.ValueKind == JsonValueKind.True; break;
                    case "stream_options":
                        if (p.Value.ValueKind == JsonValueKind.Object)
                            foreach (var o in p.Value.EnumerateObject())
                            {
                                if (o.Name == "include_usage") r.IncludeUsage = o.Value.ValueKind == JsonValueKind.True;
                                else if (o.Name == "continuous_usage_stats") r.ContinuousUsage = o.Value.ValueKind == JsonValueKind.True;
                            }
                        break;
                    case "prompt" when !chat:
                        r.Prompt = p.Value.ValueKind switch
                        {
                            JsonValueKind.String => p.Value.GetString() ?? "",
                            JsonValueKind.Array => string.Join("\n", p.Value.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.String ? e.GetString() : e.GetRawText())),
                            _ => "",
                        };
                        break;
                    case "messages" when chat:
                        if (p.Value.ValueKind != JsonValueKind.Array) return "messages must be an array.";
                        foreach (var m in p.Value.EnumerateArray())
                        {
                            if (m.ValueKind != JsonValueKind.Object || !m.TryGetProperty("role", out var role) || role.ValueKind != JsonValueKind.String) return "Each message needs a role.";
                            var sb = new StringBuilder();
                            if (m.TryGetProperty("content", out var content))
                            {
                                if (content.ValueKind == JsonValueKind.String) sb.Append(content.GetString());
                                else if (content.ValueKind == JsonValueKind.Array)
                                    foreach (var part in content.EnumerateArray())
                                        if (part.ValueKind == JsonValueKind.Object && part.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String)
                                            sb.Append(t.GetString());
                            }
                            messages.Add(new ChatTemplate.Message(role.GetString()!, sb.ToString()));
                        }
                        break;
                }
            }
            if (chat && !root.TryGetProperty("messages", out _)) return "Field required: messages.";
            // vLLM applies the model's chat template before tokenizing: the template's tokens count as prompt tokens
            if (chat) r.Prompt = ChatTemplate.Render(r.Model, messages);
            if (!chat && !root.TryGetProperty("prompt", out _)) return "Field required: prompt.";
            return null;
        }
        catch (JsonException ex)
        {
            return "Invalid JSON: " + ex.Message;
        }
    }
}
