using System.Text.Json.Nodes;

namespace RhaiiGke.Sandbox.Gke;

/// <summary>GPU node pools: config.accelerators as the GKE v1 NodeConfig defines it, checked against the machine type and zone.</summary>
public sealed partial class GkeApiSimulator
{
    private sealed record PoolGpu(string Type, int Count, string DriverVersion, bool DriverInstalled);

    private static readonly string[] DriverVersionNames = ["GPU_DRIVER_VERSION_UNSPECIFIED", "INSTALLATION_DISABLED", "DEFAULT", "LATEST"];

    /// <summary>
    /// The GPUs of a pool: config.accelerators[0] ({acceleratorCount, acceleratorType, gpuDriverInstallationConfig}),
    /// else the GPUs an accelerator-optimized machine type carries. The driver is installed only with
    /// gpuDriverVersion DEFAULT or LATEST (unspecified means "do not install any GPU driver").
    /// </summary>
    private static PoolGpu? GpuOf(JsonObject pool)
    {
        var machine = S(pool["config"]?["machineType"]);
        var acc = (pool["config"]?["accelerators"] as JsonArray)?.OfType<JsonObject>().FirstOrDefault();
        var known = GpuMachineTypes.Find(machine);
        if (acc is null && known is null) return null;
        var type = S(acc?["acceleratorType"]) ?? known!.AcceleratorType;
        var count = acc is null ? known!.Gpus : AcceleratorCount(acc["acceleratorCount"]) ?? 0;
        var driver = S(acc?["gpuDriverInstallationConfig"]?["gpuDriverVersion"]) ?? "GPU_DRIVER_VERSION_UNSPECIFIED";
        return new PoolGpu(type, count, driver, driver is "DEFAULT" or "LATEST");
    }

    /// <summary>acceleratorCount is an int64: proto JSON sends it as a string ("1") or a number.</summary>
    private static int? AcceleratorCount(JsonNode? n) =>
        I(n) ?? (S(n) is { } text && int.TryParse(text, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var v) ? v : null);

    private Reply? GpuPoolInvalid(string location, JsonObject pool)
    {
        var machine = S(pool["config"]?["machineType"]);
        var accs = (pool["config"]?["accelerators"] as JsonArray)?.OfType<JsonObject>().ToList() ?? [];
        var known = GpuMachineTypes.Find(machine);
        if (accs.Count == 0)
        {
            if (known is null && GpuMachineTypes.IsGpuSeries(machine))
                return Error(400, "INVALID_ARGUMENT", $"Machine type \"{machine}\" does not exist in zone \"{location}\".");
            if (known is not null && (!Options.ZoneAccelerators.TryGetValue(location, out var z0) || !z0.Contains(known.AcceleratorType)))
                return Error(400, "INVALID_ARGUMENT", $"Machine type \"{machine}\" is not available in zone \"{location}\": accelerator {known.AcceleratorType} is not offered there.");
            return null;
        }
        if (accs.Count > 1) return Error(400, "INVALID_ARGUMENT", "Only one accelerator type per node pool is supported.");
        var acc = accs[0];
        var type = S(acc["acceleratorType"]);
        var count = AcceleratorCount(acc["acceleratorCount"]);
        if (string.IsNullOrEmpty(type)) return Error(400, "INVALID_ARGUMENT", "Invalid value for field \"node_pool.config.accelerators[0].accelerator_type\": \"\". Accelerator type must be specified.");
        if (count is not > 0) return Error(400, "INVALID_ARGUMENT", $"Invalid value for field \"node_pool.config.accelerators[0].accelerator_count\": \"{acc["acceleratorCount"]?.ToJsonString() ?? "0"}\". Must be greater than 0.");
        if (S(acc["gpuDriverInstallationConfig"]?["gpuDriverVersion"]) is { } dv && !DriverVersionNames.Contains(dv))
            return Error(400, "INVALID_ARGUMENT",
                $"Invalid value at 'node_pool.config.accelerators[0].gpu_driver_installation_config.gpu_driver_version' (type.googleapis.com/google.container.v1.GPUDriverInstallationConfig.GPUDriverVersion), \"{dv}\"");
        if (!Options.ZoneAccelerators.TryGetValue(location, out var offered) || !offered.Contains(type))
            return Error(400, "INVALID_ARGUMENT", $"Accelerator type \"{type}\" does not exist in zone {location}.");
        if (known is not null && (known.AcceleratorType != type || known.Gpus != count))
            return Error(400, "INVALID_ARGUMENT",
                $"Accelerator type \"{type}\" with count {count} is not supported for machine type \"{machine}\"; {machine} comes with {known.Gpus} x {known.AcceleratorType}.");
        if (known is null && machine is not null && (machine.StartsWith("ct", StringComparison.Ordinal) || !machine.StartsWith("n1-", StringComparison.Ordinal)))
            return Error(400, "INVALID_ARGUMENT", $"Accelerator type \"{type}\" cannot be attached to machine type \"{machine}\": use its accelerator-optimized machine series (g2, a2, a3) or N1.");
        return null;
    }
}
