using System.Net;
using System.Net.Sockets;

namespace NxMesh.AgentSim.Sim;

/// <summary>Opens an agent's TCP connection from a chosen loopback source address (more ephemeral ports per target).</summary>
internal static class SimConnect
{
    public static async ValueTask<Stream> ConnectAsync(IPAddress local, DnsEndPoint target, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            socket.Bind(new IPEndPoint(local, 0));
            await socket.ConnectAsync(IPAddress.Parse(target.Host), target.Port, cancellationToken);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
