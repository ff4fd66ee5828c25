using System.Globalization;
using System.Text.Json.Nodes;

namespace RhaiiGke.Sandbox.KubeApi;

/// <summary>
/// Node heartbeats as a real kubelet sends them since NodeLease went GA: one coordination.k8s.io/v1 Lease per
/// node in kube-node-lease, named after the node, owned by it, holderIdentity the node, leaseDurationSeconds 40,
/// and renewTime renewed every <see cref="KubeApiSimulatorOptions.NodeLeaseRenewInterval"/>. kubectl describe node
/// reads it for its Lease section (and says "Failed to get lease" without it).
/// </summary>
public sealed partial class KubeApiSimulator
{
    private const string NodeLeaseNamespace = "kube-node-lease";
    private Timer? _leaseTimer;

    /// <summary>A MicroTime as the API server writes it (RFC3339 with microseconds).</summary>
    private static string MicroNow() => DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);

    private void StartNodeLeaseRenewal()
    {
        var every = Options.NodeLeaseRenewInterval;
        if (every <= TimeSpan.Zero || _leaseTimer is not null) return;
        _leaseTimer = new Timer(_ => RenewAllNodeLeases(), null, every, every);
    }

    private void StopNodeLeaseRenewal()
    {
        _leaseTimer?.Dispose();
        _leaseTimer = null;
    }

    private void RenewAllNodeLeases()
    {
        try
        {
            lock (_core.Gate)
                foreach (var node in _core.PeekAll(_core.Registry.BuiltIn("", "nodes")).ToList())
                    RenewNodeLeaseLocked(node.Name());
        }
        catch (Exception ex) when (ex is StatusError or InvalidOperationException) { }
    }

    /// <summary>Creates the node's Lease, or renews it (the kubelet's update of spec.renewTime).</summary>
    private void RenewNodeLeaseLocked(string nodeName)
    {
        var nodes = _core.Registry.BuiltIn("", "nodes");
        var leases = _core.Registry.BuiltIn("coordination.k8s.io", "leases");
        var node = _core.Peek(nodes, null, nodeName);
        if (node is null || _core.Peek(_core.Registry.BuiltIn("", "namespaces"), null, NodeLeaseNamespace) is null) return;
        var now = MicroNow();
        if (_core.Peek(leases, NodeLeaseNamespace, nodeName) is { } existing)
        {
            _core.Mutate(leases, existing, l => l.Ensure("spec")["renewTime"] = now, "kubelet");
            return;
        }
        _core.Create(leases, NodeLeaseNamespace, new JsonObject
        {
            ["apiVersion"] = "coordination.k8s.io/v1", ["kind"] = "Lease",
            ["metadata"] = new JsonObject
            {
                ["name"] = nodeName, ["namespace"] = NodeLeaseNamespace,
                ["ownerReferences"] = new JsonArray(new JsonObject
                {
                    ["apiVersion"] = "v1", ["kind"] = "Node", ["name"] = nodeName, ["uid"] = node.Str("metadata", "uid"),
                }),
            },
            ["spec"] = new JsonObject { ["holderIdentity"] = nodeName, ["leaseDurationSeconds"] = 40, ["renewTime"] = now },
        }, WriteOptions.Controller("kubelet"));
    }

    private void RemoveNodeLeaseLocked(string nodeName)
    {
        var leases = _core.Registry.BuiltIn("coordination.k8s.io", "leases");
        if (_core.Peek(leases, NodeLeaseNamespace, nodeName) is { } lease) _core.ForceRemove(leases, lease);
    }
}
