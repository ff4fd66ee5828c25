namespace RhaiiGke.Sandbox.KubeApi;

/// <summary>
/// GPU nodes as GKE labels and taints them: <c>cloud.google.com/gke-accelerator=&lt;type&gt;</c>, the taint
/// <c>nvidia.com/gpu=present:NoSchedule</c>, and <c>nvidia.com/gpu</c> capacity only when the NVIDIA driver is
/// installed (the device plugin advertises GPUs after the driver loads; with gpuDriverVersion INSTALLATION_DISABLED
/// and no manual install the node has no <c>nvidia.com/gpu</c> at all, and GPU pods stay Pending).
/// </summary>
public static class SimulatedGpuNodes
{
    public static IEnumerable<SimulatedNode> Pool(string pool, int count, string acceleratorType, string machineType, int gpusPerNode,
        bool driverInstalled = true, string zone = "us-central1-a", string driverVersion = "default") =>
        Enumerable.Range(0, count).Select(i =>
        {
            var labels = new Dictionary<string, string>
            {
                ["cloud.google.com/gke-nodepool"] = pool, ["node.kubernetes.io/instance-type"] = machineType,
                ["cloud.google.com/gke-accelerator"] = acceleratorType,
                ["topology.kubernetes.io/zone"] = zone, ["kubernetes.io/os"] = "linux", ["kubernetes.io/arch"] = "amd64",
            };
            if (driverInstalled) labels["cloud.google.com/gke-gpu-driver-version"] = driverVersion;
            var capacity = new Dictionary<string, string> { ["cpu"] = Cpus(machineType), ["memory"] = "90Gi", ["pods"] = "110" };
            if (driverInstalled) capacity["nvidia.com/gpu"] = gpusPerNode.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return new SimulatedNode
            {
                Name = $"gke-{pool}-{i:x4}",
                Labels = labels,
                Taints = [new SimulatedTaint("nvidia.com/gpu", "present", "NoSchedule")],
                Capacity = capacity,
            };
        });

    private static string Cpus(string machine) =>
        int.TryParse(machine.Split('-').Last().TrimEnd('g'), out var n) ? (machine.StartsWith("g2", StringComparison.Ordinal) ? n : n * 12).ToString(System.Globalization.CultureInfo.InvariantCulture) : "8";
}
