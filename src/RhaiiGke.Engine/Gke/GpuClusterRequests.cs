using System.Text.Json.Nodes;
using RhaiiGke.Engine.Catalog;

namespace RhaiiGke.Engine.Gke;

/// <summary>
/// The GPU node pool of New-GpuCluster as a GKE v1 <c>nodePools.create</c> body: the accelerator-optimized machine type
/// with <c>config.accelerators[{acceleratorCount, acceleratorType, gpuDriverInstallationConfig.gpuDriverVersion}]</c>
/// so GKE installs the NVIDIA driver (DEFAULT or LATEST) and the device plugin advertises <c>nvidia.com/gpu</c>.
/// GKE labels the nodes <c>cloud.google.com/gke-accelerator</c> and taints them <c>nvidia.com/gpu=present:NoSchedule</c>
/// itself (the cluster has a non-GPU default pool); no placement policy (that is for TPU slices).
/// </summary>
public static class GpuClusterRequests
{
    /// <summary>The GPU machine of a spec: -Topology (or the machine type) gives the GPUs per node; validates the driver version.</summary>
    public static TpuTopology Resolve(TpuClusterSpec spec)
    {
        var driver = (spec.GpuDriverVersion ?? "").Trim().ToUpperInvariant();
        if (!GpuCatalog.DriverVersions.Contains(driver))
            throw new RhaiiException("InvalidGpuDriverVersion", RhaiiErrorCategory.InvalidArgument,
                $"'{spec.GpuDriverVersion}' is not a GKE GPU driver version.", "Use DEFAULT, LATEST or INSTALLATION_DISABLED.", spec.GpuDriverVersion);
        spec.GpuDriverVersion = driver;
        return GpuCatalog.Resolve(spec.Accelerator, GpuCatalog.CountOf(spec.Topology), string.IsNullOrWhiteSpace(spec.MachineType) ? null : spec.MachineType);
    }

    public static JsonObject NodePool(TpuClusterPlan plan)
    {
        var pool = ClusterRequests.TpuNodePool(plan);
        var config = pool["config"]!.AsObject();
        // GKE adds the nvidia.com/gpu taint to GPU nodes itself; the TPU taint and placement do not apply
        config.Remove("taints");
        pool.Remove("placementPolicy");
        config["accelerators"] = new JsonArray(new JsonObject
        {
            // int64 in proto JSON: a string, as the Google API clients send it
            ["acceleratorCount"] = plan.Slice.ChipsPerHost.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["acceleratorType"] = plan.Slice.Accelerator,
            ["gpuDriverInstallationConfig"] = new JsonObject { ["gpuDriverVersion"] = plan.Spec.GpuDriverVersion },
        });
        return pool;
    }
}
