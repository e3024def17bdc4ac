using System.Net;
using System.Net.Sockets;
using System.Text;

namespace NxMesh.EndToEnd.Tests;

/// <summary>
/// A loopback HTTP/1.1 server that answers by path: <c>…/{status}/{bytes}</c> gets that status and a body of exactly
/// that many bytes (3xx with a Location header), so a test knows what nginx logs for each request. Any request body is
/// read to its Content-Length first. One request per connection (nginx talks HTTP/1.0 to upstreams). Stopped on dispose.
/// </summary>
internal sealed class StatusUpstream : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _acceptLoop;

    private StatusUpstream()
    {
        _listener.Start();
        _acceptLoop = AcceptAsync();
    }

    public string Address => $"127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

    public static StatusUpstream Start() => new();

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                timeout.CancelAfter(TimeSpan.FromSeconds(30));
                var stream = client.GetStream();
                var received = new List<byte>();
                var buffer = new byte[16 * 1024];
                int headEnd;
                while ((headEnd = IndexOfHeadEnd(received)) < 0)
                {
                    var read = await stream.ReadAsync(buffer, timeout.Token);
                    if (read == 0)
                    {
                        return;
                    }
                    received.AddRange(buffer.AsSpan(0, read));
                }
                var head = Encoding.Latin1.GetString([.. received.Take(headEnd)]);
                var lines = head.Split("\r\n");
                var contentLength = lines.Skip(1)
                    .Where(l => l.StartsWith("content-length:", StringComparison.OrdinalIgnoreCase))
                    .Select(l => int.Parse(l["content-length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture))
                    .FirstOrDefault();
                var bodyRead = received.Count - headEnd - 4;
                while (bodyRead < contentLength)
                {
                    var read = await stream.ReadAsync(buffer, timeout.Token);
                    if (read == 0)
                    {
                        return;
                    }
                    bodyRead += read;
                }

                var path = lines[0].Split(' ')[1];
                var segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
                var status = int.Parse(segments[^2], System.Globalization.CultureInfo.InvariantCulture);
                var size = int.Parse(segments[^1], System.Globalization.CultureInfo.InvariantCulture);
                var location = status is >= 300 and < 400 ? "Location: /moved\r\n" : "";
                var response = $"HTTP/1.1 {status} Status\r\nContent-Type: text/plain\r\nContent-Length: {size}\r\n{location}Connection: close\r\n\r\n";
                await stream.WriteAsync(Encoding.ASCII.GetBytes(response), timeout.Token);
                await stream.WriteAsync(Encoding.ASCII.GetBytes(new string('x', size)), timeout.Token);
            }
            catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException or FormatException or IndexOutOfRangeException)
            {
            }
        }
    }

    private static int IndexOfHeadEnd(List<byte> bytes)
    {
        for (var i = 0; i + 3 < bytes.Count; i++)
        {
            if (bytes[i] == '\r' && bytes[i + 1] == '\n' && bytes[i + 2] == '\r' && bytes[i + 3] == '\n')
            {
                return i;
            }
        }
        return -1;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _acceptLoop;
        _stop.Dispose();
    }
}
