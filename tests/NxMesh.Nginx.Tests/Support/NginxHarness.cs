using System.Net;
using System.Net.Sockets;
using NxMesh.Nginx.Rendering;
using NxMesh.Testing;

namespace NxMesh.Nginx.Tests.Support;

/// <summary>Writes a rendered config (main file and certificate files) into a fresh nginx prefix.</summary>
public static class NginxHarness
{
    public static NginxRunner Write(RenderedConfig rendered)
    {
        var nginx = NginxRunner.Create(rendered.MainConfig);
        foreach (var (path, file) in rendered.Files)
        {
            var target = Path.Combine(nginx.Prefix, path);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.WriteAllText(target, file.Content);
            if (file.Secret)
            {
                File.SetUnixFileMode(target, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
        }
        return nginx;
    }

    /// <summary>`nginx -t` of a rendered config in its own prefix; returns nginx's output on failure.</summary>
    public static async Task<(bool Ok, string Output)> TestAsync(RenderedConfig rendered)
    {
        await using var nginx = Write(rendered);
        var (exitCode, output) = await nginx.TestAsync();
        return (exitCode == 0, output);
    }

    public static int FreePort() => NxMesh.AppHost.Local.LocalDataDirectory.FreeTcpPort();

    /// <summary>
    /// A privileged-port offset under which every given port below 1024 lands on a free loopback port, so a case
    /// written with ports 80 and 443 runs unprivileged (the agent's PrivilegedPortOffset).
    /// </summary>
    public static int FreeOffset(params int[] ports)
    {
        for (var attempt = 0; attempt < 200; attempt++)
        {
            var offset = Random.Shared.Next(20000, 60000);
            if (ports.All(p => IsFree(p + offset)))
            {
                return offset;
            }
        }
        throw new InvalidOperationException("no free port offset found");
    }

    public static HttpClient Client(int connectPort, bool followRedirects = false) =>
        new(new SocketsHttpHandler
        {
            AllowAutoRedirect = followRedirects,
            UseProxy = false,
            // Any URL host goes to nginx on loopback; the URL's host stays the Host header and the TLS SNI.
            ConnectCallback = async (_, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, connectPort), cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
            SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true },
            PooledConnectionLifetime = TimeSpan.FromSeconds(30),
        })
        { Timeout = TimeSpan.FromSeconds(10) };

    private static bool IsFree(int port)
    {
        if (port > 65535)
        {
            return false;
        }
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
