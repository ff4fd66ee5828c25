using System.Text;

namespace RhaiiGke.Sandbox.Vllm;

/// <summary>
/// The chat template vLLM applies to /v1/chat/completions before tokenizing, per model family, so a chat's
/// prompt_tokens include the template as vLLM counts them. The rule:
/// <list type="bullet">
/// <item>each special token of the template (&lt;|im_start|&gt;, &lt;|eot_id|&gt;, &lt;start_of_turn&gt;, BOS ...) counts as one token:
/// it is rendered as one private-use character, which the simulator's tokenizer counts as one token; so is each line
/// break the template itself writes ("\n", and "\n\n" as one, as the BPE vocabularies have them);</item>
/// <item>everything else (role names, default system prompts, message contents) is counted by the simulator's word
/// tokenizer (SimTokenizer: a word, a number or a punctuation mark is one token), which approximates BPE on English.</item>
/// </list>
/// So a Qwen2.5 chat of one user message "hi" is 29 prompt tokens, as vLLM counts it with Qwen2.5's tokenizer.
/// Families (matched on the served model name, case-insensitive):
/// <list type="bullet">
/// <item>Qwen2 / Qwen2.5 (ChatML): without a system message the template adds "You are Qwen, created by Alibaba Cloud.
/// You are a helpful assistant."; each message is &lt;|im_start|&gt;role\ncontent&lt;|im_end|&gt;\n and the generation
/// prompt &lt;|im_start|&gt;assistant\n follows. Qwen3 and unknown models: the same ChatML without a default system prompt.</item>
/// <item>Llama 3.1/3.2/3.3: &lt;|begin_of_text|&gt;, a system header that always carries "Cutting Knowledge Date: December 2023"
/// and "Today Date: 26 Jul 2024" (the template's default date) before any system text, then
/// &lt;|start_header_id|&gt;role&lt;|end_header_id|&gt;\n\ncontent&lt;|eot_id|&gt; per message and the assistant header.
/// Llama 3.0 has no default system block.</item>
/// <item>Gemma (2 and 3): &lt;bos&gt;, &lt;start_of_turn&gt;user\n ... &lt;end_of_turn&gt;\n per turn (assistant is "model"), a system
/// message is prepended to the first user turn followed by a blank line, then &lt;start_of_turn&gt;model\n.</item>
/// <item>Mistral / Mixtral: &lt;s&gt;[INST] content [/INST] per user turn (system text prepended to the last user turn), assistant
/// turns followed by &lt;/s&gt;.</item>
/// </list>
/// </summary>
internal static class ChatTemplate
{
    /// <summary>One chat message as the request sent it (content already flattened to text).</summary>
    public readonly record struct Message(string Role, string Content);

    // one character per special token: the tokenizer counts a non-letter, non-space character as one token
    private const char ImStart = '\uE000', ImEnd = '\uE001';
    private const char BeginOfText = '\uE010', StartHeader = '\uE011', EndHeader = '\uE012', EotId = '\uE013';
    private const char Bos = '\uE020', StartOfTurn = '\uE021', EndOfTurn = '\uE022';
    private const char MistralBos = '\uE030', InstOpen = '\uE031', InstClose = '\uE032', MistralEos = '\uE033';
    // the template's own line breaks: BPE vocabularies have "\n" and "\n\n" as single tokens
    private const char Nl = '\uE0F0', Nl2 = '\uE0F1';

    public const string QwenDefaultSystem = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.";

    /// <summary>The prompt text vLLM would tokenize for these messages, with the generation prompt added.</summary>
    public static string Render(string model, IReadOnlyList<Message> messages)
    {
        var m = model.ToLowerInvariant();
        if (m.Contains("llama-3") || m.Contains("llama3")) return Llama3(messages, defaultSystemBlock: m.Contains("llama-3.") || m.Contains("llama3."));
        if (m.Contains("gemma")) return Gemma(messages);
        if (m.Contains("mistral") || m.Contains("mixtral")) return Mistral(messages);
        var qwen2 = m.Contains("qwen2") || m.Contains("qwen/qwen2") || m.Contains("qwq");
        return ChatMl(messages, qwen2 ? QwenDefaultSystem : null);
    }

    private static string ChatMl(IReadOnlyList<Message> messages, string? defaultSystem)
    {
        var sb = new StringBuilder();
        if (defaultSystem is not null && (messages.Count == 0 || messages[0].Role != "system"))
            sb.Append(ImStart).Append("system").Append(Nl).Append(defaultSystem).Append(ImEnd).Append(Nl);
        foreach (var msg in messages) sb.Append(ImStart).Append(msg.Role).Append(Nl).Append(msg.Content).Append(ImEnd).Append(Nl);
        return sb.Append(ImStart).Append("assistant").Append(Nl).ToString();
    }

    private static string Llama3(IReadOnlyList<Message> messages, bool defaultSystemBlock)
    {
        var sb = new StringBuilder().Append(BeginOfText);
        var rest = messages.AsEnumerable();
        if (defaultSystemBlock)
        {
            var system = messages.Count > 0 && messages[0].Role == "system" ? messages[0].Content : "";
            if (messages.Count > 0 && messages[0].Role == "system") rest = messages.Skip(1);
            sb.Append(StartHeader).Append("system").Append(EndHeader).Append(Nl2)
              .Append("Cutting Knowledge Date: December 2023").Append(Nl).Append("Today Date: 26 Jul 2024").Append(Nl2).Append(system).Append(EotId);
        }
        foreach (var msg in rest) sb.Append(StartHeader).Append(msg.Role).Append(EndHeader).Append(Nl2).Append(msg.Content.Trim()).Append(EotId);
        return sb.Append(StartHeader).Append("assistant").Append(EndHeader).Append(Nl2).ToString();
    }

    private static string Gemma(IReadOnlyList<Message> messages)
    {
        var sb = new StringBuilder().Append(Bos);
        string? system = null;
        var first = true;
        foreach (var msg in messages)
        {
            if (msg.Role == "system") { system = system is null ? msg.Content : system + "\n\n" + msg.Content; continue; }
            var role = msg.Role == "assistant" ? "model" : msg.Role;
            sb.Append(StartOfTurn).Append(role).Append(Nl);
            if (first && system is not null) sb.Append(system).Append(Nl2);
            first = false;
            sb.Append(msg.Content.Trim()).Append(EndOfTurn).Append(Nl);
        }
        return sb.Append(StartOfTurn).Append("model").Append(Nl).ToString();
    }

    private static string Mistral(IReadOnlyList<Message> messages)
    {
        var sb = new StringBuilder().Append(MistralBos);
        var system = string.Join("\n\n", messages.Where(x => x.Role == "system").Select(x => x.Content));
        var turns = messages.Where(x => x.Role != "system").ToList();
        var lastUser = turns.FindLastIndex(x => x.Role == "user");
        for (var i = 0; i < turns.Count; i++)
        {
            var msg = turns[i];
            if (msg.Role == "user")
                sb.Append(InstOpen).Append(' ').Append(i == lastUser && system.Length > 0 ? system + "\n\n" + msg.Content : msg.Content).Append(' ').Append(InstClose);
            else sb.Append(' ').Append(msg.Content).Append(MistralEos);
        }
        return sb.ToString();
    }
}
