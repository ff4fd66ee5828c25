using System.Net.Http.Json;
using System.Text.Json;
using RhaiiGke.Engine.Inference;
using RhaiiGke.Sandbox.Vllm;
using Xunit;

namespace RhaiiGke.Tests.Inference;

/// <summary>What a client sees of a real vLLM: chat-template tokens, /version, max_model_len.</summary>
public sealed class VllmFidelityTests
{
    private static async Task<int> ChatPromptTokens(string model, object[] messages, int maxModelLength = 32768)
    {
        var sim = VllmSimulator.Start(new InferenceSimulatorOptions { Model = model, MaxModelLength = maxModelLength });
        try
        {
            using var http = new HttpClient();
            var res = await http.PostAsJsonAsync(sim.Info.BaseUrl + "/v1/chat/completions", new { model, messages, max_tokens = 1 });
            var body = await res.Content.ReadAsStringAsync();
            Assert.True(res.IsSuccessStatusCode, body);
            return JsonDocument.Parse(body).RootElement.GetProperty("usage").GetProperty("prompt_tokens").GetInt32();
        }
        finally { VllmSimulator.Stop(sim.Info.Id); }
    }

    /// <summary>
    /// Qwen2.5's ChatML adds its default system prompt: "hi" is 29 tokens as Qwen2.5's tokenizer counts
    /// &lt;|im_start|&gt;system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.&lt;|im_end|&gt;\n&lt;|im_start|&gt;user\nhi&lt;|im_end|&gt;\n&lt;|im_start|&gt;assistant\n.
    /// </summary>
    [Fact]
    public async Task AQwenChatCountsTheChatMlTemplateAndItsDefaultSystemPrompt()
    {
        Assert.Equal(29, await ChatPromptTokens("Qwen/Qwen2.5-3B-Instruct", [new { role = "user", content = "hi" }]));
        // an explicit system message replaces the default one: 5 specials, 5 template line breaks, "system", "Terse", ".", "user", "hi", "assistant"
        Assert.Equal(16, await ChatPromptTokens("Qwen/Qwen2.5-3B-Instruct", [new { role = "system", content = "Terse." }, new { role = "user", content = "hi" }]));
    }

    [Fact]
    public async Task EachFamilyCountsItsOwnTemplate()
    {
        object[] hi = [new { role = "user", content = "hi" }];
        var qwen3 = await ChatPromptTokens("Qwen/Qwen3-8B", hi);
        var llama31 = await ChatPromptTokens("meta-llama/Llama-3.1-8B-Instruct", hi);
        var llama30 = await ChatPromptTokens("meta-llama/Meta-Llama-3-8B-Instruct", hi);
        var gemma = await ChatPromptTokens("google/gemma-3-4b-it", hi);
        // ChatML without a default system: <|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n
        Assert.Equal(9, qwen3);
        // <|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n
        Assert.Equal(11, llama30);
        // Llama 3.1 adds the system header with the knowledge and today dates
        Assert.True(llama31 > llama30 + 10, $"Llama 3.1 {llama31} vs 3.0 {llama30}");
        // <bos><start_of_turn>user\nhi<end_of_turn>\n<start_of_turn>model\n
        Assert.Equal(10, gemma);
    }

    [Fact]
    public async Task CompletionsCountThePromptAlone()
    {
        var sim = VllmSimulator.Start(new InferenceSimulatorOptions());
        try
        {
            using var http = new HttpClient();
            var res = await http.PostAsJsonAsync(sim.Info.BaseUrl + "/v1/completions", new { model = sim.Info.Model, prompt = "hi", max_tokens = 1 });
            Assert.Equal(InferenceText.CountTokens("hi"), JsonDocument.Parse(await res.Content.ReadAsStringAsync()).RootElement.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        }
        finally { VllmSimulator.Stop(sim.Info.Id); }
    }

    [Fact]
    public async Task VersionAndMaxModelLenAreThoseOfTheServer()
    {
        var sim = VllmSimulator.Start(new InferenceSimulatorOptions { MaxModelLength = 4096, VllmVersion = "0.11.0" });
        var dflt = VllmSimulator.Start(new InferenceSimulatorOptions());
        try
        {
            using var http = new HttpClient();
            Assert.Equal("0.11.0", JsonDocument.Parse(await http.GetStringAsync(sim.Info.BaseUrl + "/version")).RootElement.GetProperty("version").GetString());
            Assert.Equal("0.11.0", JsonDocument.Parse(await http.GetStringAsync(sim.Info.ReplicaUrls[0] + "/version")).RootElement.GetProperty("version").GetString());
            Assert.Equal(VllmVersions.ForImage(RhaiiGke.Engine.Manifests.SpecFactory.DefaultTpuImage),
                JsonDocument.Parse(await http.GetStringAsync(dflt.Info.BaseUrl + "/version")).RootElement.GetProperty("version").GetString());
            var models = JsonDocument.Parse(await http.GetStringAsync(sim.Info.BaseUrl + "/v1/models")).RootElement;
            Assert.Equal(4096, models.GetProperty("data")[0].GetProperty("max_model_len").GetInt32());
            // the context check uses the same limit, template tokens included
            var res = await http.PostAsJsonAsync(sim.Info.BaseUrl + "/v1/chat/completions", new { model = sim.Info.Model, messages = new[] { new { role = "user", content = "hi" } }, max_tokens = 4096 - 28 });
            Assert.Equal(400, (int)res.StatusCode);
            Assert.Contains("(29 in the messages", await res.Content.ReadAsStringAsync());
        }
        finally { VllmSimulator.Stop(sim.Info.Id); VllmSimulator.Stop(dflt.Info.Id); }
    }

    [Theory]
    [InlineData("registry.redhat.io/rhaiis/vllm-tpu-rhel9:3.2.5", "0.10.1.1")]
    [InlineData("registry.redhat.io/rhaiis/vllm-tpu-rhel9:3.2", "0.10.1.1")]
    [InlineData("docker.io/vllm/vllm-tpu:v0.11.1", "0.11.1")]
    [InlineData("vllm/vllm-openai:v0.10.2", "0.10.2")]
    public void TheVersionComesFromTheImage(string image, string version) => Assert.Equal(version, VllmVersions.ForImage(image));
}
