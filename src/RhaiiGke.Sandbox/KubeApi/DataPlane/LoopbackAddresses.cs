using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace RhaiiGke.Sandbox.KubeApi.DataPlane;

/// <summary>
/// Load-balancer addresses a sandbox hands out, the way a local cloud provider (cloud-provider-kind, MetalLB
/// on a laptop, minikube tunnel) does it: an address this machine really answers on. Each LoadBalancer Service
/// and GKE Gateway gets its own address in 127.0.0.0/8 (Linux and Windows route the whole block to the loopback
/// interface), so the Gateway keeps the listener ports its spec asks for (port 80 stays 80, and the URL KServe
/// derives from the Gateway, <c>http://127.x.y.z/ns/name</c>, is the one curl, browsers and OpenAI SDKs use from any
/// process). An address is given only when every requested port can be bound on it right now; when this
/// process may not bind them (ports below 1024 without root or CAP_NET_BIND_SERVICE, macOS without loopback
/// aliases) <see cref="Allocate"/> returns null and the caller falls back to a made-up public address that only
/// in-process clients reach (through <see cref="EndpointOverrides"/>).
/// </summary>
internal static class LoopbackAddresses
{
    private static readonly object Gate = new();
    private static readonly HashSet<string> Handed = new(StringComparer.Ordinal);

    /// <summary>
    /// A 127.x.y.z address, stable for <paramref name="seed"/> while it is free, where every port in
    /// <paramref name="ports"/> can be bound; null when none can (see the class summary).
    /// </summary>
    public static string? Allocate(string seed, IReadOnlyCollection<int> ports)
    {
        lock (Gate)
        {
            for (var attempt = 0; attempt < 48; attempt++)
            {
                var h = SHA256.HashData(Encoding.UTF8.GetBytes($"{seed}#{attempt}"));
                // 127.0.0.0/16 is left alone (127.0.0.1, systemd-resolved's 127.0.0.53, other local services)
                var ip = $"127.{h[0] % 254 + 1}.{h[1]}.{h[2] % 253 + 2}";
                if (Handed.Contains(ip)) continue;
                var verdict = CanBind(ip, ports);
                if (verdict == BindResult.Ok)
                {
                    Handed.Add(ip);
                    return ip;
                }
                if (verdict == BindResult.NotPermitted) return null; // no other 127.x address will do better
            }
            return null;
        }
    }

    /// <summary>
    /// Null when this process can serve load-balancer addresses on loopback with port 80 (what Gateways listen on);
    /// else why not and what to do, for the sandbox to tell the user that gateways are reachable in-process only.
    /// </summary>
    public static string? Unavailable()
    {
        for (var attempt = 0; attempt < 8; attempt++)
        {
            var ip = $"127.{Random.Shared.Next(1, 255)}.{Random.Shared.Next(0, 256)}.{Random.Shared.Next(2, 255)}";
            switch (CanBind(ip, [80]))
            {
                case BindResult.Ok: return null;
                case BindResult.NotPermitted:
                    return OperatingSystem.IsMacOS()
                        ? "this machine has no loopback address besides 127.0.0.1 (macOS): add aliases (sudo ifconfig lo0 alias 127.x.y.z) for gateways to be reachable from other processes"
                        : "this process may not listen on port 80 (Linux without root): gateways are reachable only inside this PowerShell session; allow it with 'sudo sysctl net.ipv4.ip_unprivileged_port_start=80' or 'sudo setcap cap_net_bind_service=+ep' on the pwsh binary";
            }
        }
        return null;
    }

    private enum BindResult { Ok, InUse, NotPermitted }

    private static BindResult CanBind(string ip, IReadOnlyCollection<int> ports)
    {
        var address = IPAddress.Parse(ip);
        foreach (var port in ports.Count == 0 ? [80] : ports)
        {
            using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                if (OperatingSystem.IsWindows()) s.ExclusiveAddressUse = true;
                s.Bind(new IPEndPoint(address, port));
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse) { return BindResult.InUse; }
            catch (SocketException) { return BindResult.NotPermitted; }
        }
        return BindResult.Ok;
    }

    /// <summary>True for an address in 127.0.0.0/8.</summary>
    public static bool IsLoopback(string? ip) => ip is not null && IPAddress.TryParse(ip, out var a) && IPAddress.IsLoopback(a);
}
