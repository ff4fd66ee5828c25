namespace RhaiiGke.Cmdlets.Inference;

/// <summary>The -RoutedModel convention of the inference test commands: one run per routed model (sent with the model header), else one run for -Model.</summary>
internal static class RoutedModels
{
    public static async Task ForEachAsync(string[]? routed, string? model, Func<string?, bool, Task> testOne)
    {
        if (routed is { Length: > 0 })
        {
            foreach (var m in routed.Where(m => !string.IsNullOrWhiteSpace(m)).Distinct(StringComparer.Ordinal))
                await testOne(m, true);
            return;
        }
        await testOne(model, false);
    }
}
