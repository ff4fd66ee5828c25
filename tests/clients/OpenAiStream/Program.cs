using System.ClientModel;
using OpenAI;
using OpenAI.Chat;

// usage: OpenAiStream <baseUrl> <model> <prompt>
// Streams one chat completion with the OpenAI .NET SDK and prints one line per streamed update that carries
// text ("delta: <text>"), then "finish: <reason>" and "updates: <n>". Exit code 0 on success, 1 on an error.
if (args.Length < 3)
{
    Console.Error.WriteLine("usage: OpenAiStream <baseUrl> <model> <prompt>");
    return 2;
}
try
{
    var client = new ChatClient(args[1], new ApiKeyCredential("sandbox-no-key"), new OpenAIClientOptions { Endpoint = new Uri(args[0]) });
    var updates = 0;
    ChatFinishReason? finish = null;
    await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage(args[2])], new ChatCompletionOptions { MaxOutputTokenCount = 24 }))
    {
        foreach (var part in update.ContentUpdate)
        {
            if (string.IsNullOrEmpty(part.Text)) continue;
            updates++;
            Console.WriteLine("delta: " + part.Text.Replace("\n", "\\n", StringComparison.Ordinal));
        }
        finish ??= update.FinishReason;
    }
    Console.WriteLine("finish: " + (finish?.ToString() ?? "none"));
    Console.WriteLine("updates: " + updates);
    return 0;
}
catch (Exception e)
{
    Console.Error.WriteLine(e.GetType().Name + ": " + e.Message);
    return 1;
}
