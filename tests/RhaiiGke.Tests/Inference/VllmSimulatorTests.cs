using System.ClientModel;
using System.Net;
using System.Text;
using System.Text.Json;
using OpenAI;
using OpenAI.Chat;
using RhaiiGke.Sandbox.Vllm;
using Xunit;

namespace RhaiiGke.Tests.Inference;

public sealed class VllmSimulatorTests : IDisposable
{
    private const string Model = "Qwen/Qwen2.5-3B-Instruct";
    private readonly VllmSimulator _sim = VllmSimulator.Start(new InferenceSimulatorOptions { Model = Model, Replicas = 2, Seed = 1 });
    private readonly HttpClient _http = new();

    private ChatClient Chat() => new(Model, new ApiKeyCredential("sk-test"), new OpenAIClientOptions { Endpoint = new Uri(_sim.Info.BaseUrl + "/v1") });

    [Fact]
    public void OpenAiSdkCompletesAChatWithUsageAndFinishReason()
    {
        var result = Chat().CompleteChat([new UserChatMessage("Say hello to the gateway")], new ChatCompletionOptions { MaxOutputTokenCount = 7 });
        ChatCompletion c = result.Value;
        Assert.Equal(ChatFinishReason.Length, c.FinishReason);
        Assert.Equal(7, c.Usage.OutputTokenCount);
        Assert.Equal(33, c.Usage.InputTokenCount); // 5 words plus the 28 tokens of Qwen2.5's ChatML template with its default system prompt
        Assert.Equal(7, c.Content[0].Text.Split(' ').Length);
        Assert.True(result.GetRawResponse().Headers.TryGetValue("x-inference-pod", out var pod));
        Assert.Contains(pod, _sim.Info.PodNames);
    }

    [Fact]
    public void OpenAiSdkStreamsDeltasThenUsage()
    {
        var text = new StringBuilder();
        ChatTokenUsage? usage = null;
        ChatFinishReason? finish = null;
        var updates = 0;
        foreach (var u in Chat().CompleteChatStreaming([new UserChatMessage("Stream five words please")], new ChatCompletionOptions { MaxOutputTokenCount = 5 }))
        {
            updates++;
            foreach (var part in u.ContentUpdate) text.Append(part.Text);
            usage ??= u.Usage;
            finish ??= u.FinishReason;
        }
        Assert.Equal(5, text.ToString().Trim().Split(' ').Length);
        Assert.NotNull(usage);
        Assert.Equal(5, usage!.OutputTokenCount);
        Assert.Equal(ChatFinishReason.Length, finish);
        Assert.True(updates >= 6, $"role chunk, 5 token chunks and a usage chunk expected, got {updates}");
    }

    private async Task<(HttpResponseMessage Response, string Body)> Post(string url, string path, object body)
    {
        var resp = await _http.PostAsync(url + path, new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json"));
        return (resp, await resp.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task StreamingCompletionIsSseWithIncludeUsageAndDone()
    {
        var (resp, body) = await Post(_sim.Info.BaseUrl, "/v1/completions", new
        {
            model = Model, prompt = "one two three", max_tokens = 3, stream = true, stream_options = new { include_usage = true },
        });
        Assert.Equal("text/event-stream", resp.Content.Headers.ContentType!.MediaType);
        var events = body.Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.All(events, e => Assert.StartsWith("data: ", e));
        Assert.Equal("data: [DONE]", events[^1]);
        var usage = JsonDocument.Parse(events[^2]["data: ".Length..]).RootElement;
        Assert.Equal(0, usage.GetProperty("choices").GetArrayLength());
        Assert.Equal(3, usage.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.Equal(3, usage.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        var last = JsonDocument.Parse(events[^3]["data: ".Length..]).RootElement;
        Assert.Equal("length", last.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.Equal(3, events.Length - 2); // three token chunks
    }

    [Fact]
    public async Task ModelsHealthAndMetricsUseVllmNames()
    {
        var models = JsonDocument.Parse(await _http.GetStringAsync(_sim.Info.BaseUrl + "/v1/models")).RootElement;
        Assert.Equal(Model, models.GetProperty("data")[0].GetProperty("id").GetString());
        Assert.Equal(HttpStatusCode.OK, (await _http.GetAsync(_sim.Info.BaseUrl + "/health")).StatusCode);
        var metrics = await _http.GetStringAsync(_sim.Info.ReplicaUrls[0] + "/metrics");
        foreach (var name in new[] { "vllm:num_requests_running{", "vllm:num_requests_waiting{", "vllm:kv_cache_usage_perc{", "vllm:cache_config_info{",
                     "vllm:prefix_cache_hits_total{", "vllm:prefix_cache_queries_total{", "vllm:time_to_first_token_seconds_bucket{",
                     "vllm:inter_token_latency_seconds_bucket{", "vllm:request_time_per_output_token_seconds_bucket{", "vllm:e2e_request_latency_seconds_count{",
                     "vllm:request_success_total{", "vllm:generation_tokens_total{" })
            Assert.Contains(name, metrics);
        var gateway = await _http.GetStringAsync(_sim.Info.BaseUrl + "/metrics");
        Assert.Contains("pod=\"vllm-sim-1\"", gateway);
        Assert.Contains("inference_pool_ready_pods{name=\"sim\"} 2", gateway);
    }

    [Fact]
    public async Task RepeatedPrefixIsCachedInWholeBlocksAndCounted()
    {
        var prompt = string.Join(' ', Enumerable.Range(0, 100).Select(i => "word" + i)); // 100 tokens
        var url = _sim.Info.ReplicaUrls[1];
        var first = JsonDocument.Parse((await Post(url, "/v1/completions", new { model = Model, prompt, max_tokens = 2 })).Body).RootElement;
        var second = JsonDocument.Parse((await Post(url, "/v1/completions", new { model = Model, prompt, max_tokens = 2 })).Body).RootElement;
        Assert.Equal(0, first.GetProperty("usage").GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32());
        Assert.Equal(96, second.GetProperty("usage").GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32()); // 6 full blocks of 16
        var metrics = await _http.GetStringAsync(url + "/metrics");
        Assert.Contains("vllm:prefix_cache_hits_total{engine=\"0\",model_name=\"Qwen/Qwen2.5-3B-Instruct\"} 96.0", metrics);
        Assert.Contains("vllm:prefix_cache_queries_total{engine=\"0\",model_name=\"Qwen/Qwen2.5-3B-Instruct\"} 200.0", metrics);
    }

    [Fact]
    public async Task GatewaySendsASharedPrefixBackToTheSamePod()
    {
        var prefix = string.Join(' ', Enumerable.Range(0, 200).Select(i => "shared" + i));
        var pods = new HashSet<string>();
        for (var i = 0; i < 6; i++)
        {
            var (resp, _) = await Post(_sim.Info.BaseUrl, "/v1/completions", new { model = Model, prompt = prefix + " question " + i, max_tokens = 1 });
            pods.Add(resp.Headers.GetValues("x-inference-pod").Single());
        }
        Assert.Single(pods);
    }

    [Fact]
    public async Task ErrorsLookLikeVllms()
    {
        var (wrongModel, body) = await Post(_sim.Info.BaseUrl, "/v1/chat/completions", new { model = "nope", messages = new[] { new { role = "user", content = "x" } } });
        Assert.Equal(HttpStatusCode.NotFound, wrongModel.StatusCode);
        Assert.Contains("does not exist", JsonDocument.Parse(body).RootElement.GetProperty("error").GetProperty("message").GetString());
        var (tooLong, _) = await Post(_sim.Info.BaseUrl, "/v1/completions", new { model = Model, prompt = "x", max_tokens = 40000 });
        Assert.Equal(HttpStatusCode.BadRequest, tooLong.StatusCode);
        var (missing, _) = await Post(_sim.Info.BaseUrl, "/v1/chat/completions", new { model = Model });
        Assert.Equal(HttpStatusCode.BadRequest, missing.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _http.GetAsync(_sim.Info.BaseUrl + "/nowhere")).StatusCode);
    }

    [Fact]
    public async Task FailureInjectionReturnsTheChosenType()
    {
        using var failing = VllmSimulator.Start(new InferenceSimulatorOptions { Model = Model, FailureRate = 100, FailureTypes = ["rate_limit"] });
        var (resp, body) = await Post(failing.Info.BaseUrl, "/v1/completions", new { model = Model, prompt = "x", max_tokens = 1 });
        Assert.Equal((HttpStatusCode)429, resp.StatusCode);
        Assert.Equal("RateLimitError", JsonDocument.Parse(body).RootElement.GetProperty("error").GetProperty("type").GetString());
    }

    [Fact]
    public void BadOptionsAreStableErrors()
    {
        var ex = Assert.Throws<RhaiiException>(() => VllmSimulator.Start(new InferenceSimulatorOptions { FailureTypes = ["meteor"] }));
        Assert.Equal("InvalidSimulatorOption", ex.ErrorId);
    }

    [Fact]
    public void StopUnregistersAndClosesThePort()
    {
        var sim = VllmSimulator.Start(new InferenceSimulatorOptions());
        Assert.Contains(VllmSimulator.Running, s => s.Id == sim.Info.Id);
        Assert.True(VllmSimulator.Stop(sim.Info.Id));
        Assert.False(sim.Info.Running);
        Assert.DoesNotContain(VllmSimulator.Running, s => s.Id == sim.Info.Id);
        Assert.ThrowsAny<HttpRequestException>(() => _http.GetAsync(sim.Info.BaseUrl + "/health").GetAwaiter().GetResult());
        Assert.False(VllmSimulator.Stop(sim.Info.Id));
    }

    public void Dispose()
    {
        _http.Dispose();
        _sim.Dispose();
    }
}
