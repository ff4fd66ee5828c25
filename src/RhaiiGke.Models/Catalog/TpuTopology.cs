namespace RhaiiGke;

/// <summary>One valid (accelerator, machine type, topology) combination on GKE.</summary>
public sealed class TpuTopology
{
    /// <summary>Short generation name people use: v6e, v5e, v5p.</summary>
    public string Accelerator { get; init; } = "";

    /// <summary>Value of the <c>cloud.google.com/gke-tpu-accelerator</c> node label.</summary>
    public string NodeLabel { get; init; } = "";

    public string MachineType { get; init; } = "";

    /// <summary>Value of the <c>cloud.google.com/gke-tpu-topology</c> node label, e.g. 2x2.</summary>
    public string Topology { get; init; } = "";

    public int ChipsPerHost { get; init; }

    public int Hosts { get; init; }

    public int Chips => ChipsPerHost * Hosts;

    public bool MultiHost => Hosts > 1;

    public int HbmPerChipGiB { get; init; }

    public int TotalHbmGiB => HbmPerChipGiB * Chips;

    /// <summary>The extended resource a pod requests (equal requests and limits), per host.</summary>
    public string ResourceName { get; init; } = "google.com/tpu";

    /// <summary>What each pod on a host requests of <see cref="ResourceName"/>.</summary>
    public int ResourceRequest => ChipsPerHost;

    /// <summary>Taint GKE puts on TPU nodes; pods need the matching toleration.</summary>
    public string Taint { get; init; } = "google.com/tpu=present:NoSchedule";

    public override string ToString() => $"{Accelerator} {MachineType} {Topology}";
}

/// <summary>How a model fits one topology: memory, tensor parallelism and waste.</summary>
public sealed class TpuModelFit
{
    public string Model { get; init; } = "";
    public double ParametersBillions { get; init; }
    public string DType { get; init; } = "bfloat16";
    public TpuTopology Topology { get; init; } = new();
    public string Accelerator => Topology.Accelerator;
    public string MachineType => Topology.MachineType;
    public string TopologyName => Topology.Topology;
    public int Chips => Topology.Chips;
    public double WeightsGiB { get; init; }
    public double KvCacheGiB { get; init; }
    public double UsableHbmGiB { get; init; }
    public bool Fits { get; init; }
    public int TensorParallelSize { get; init; }
    /// <summary>Pipeline stages: 1 on a single host; the hosts of a multi-host slice (one stage per host, tensor-parallel within it).</summary>
    public int PipelineParallelSize { get; init; } = 1;
    /// <summary>Smallest chip count that holds the model with its KV-cache headroom.</summary>
    public int MinimumChips { get; init; }
    /// <summary>Chips beyond what the model needs; 0 when the topology is the smallest that fits.</summary>
    public int WastedChips { get; init; }
    public bool Recommended { get; init; }
    public string Note { get; init; } = "";
}
