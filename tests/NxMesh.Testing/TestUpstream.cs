using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace NxMesh.Testing;

/// <summary>What a <see cref="TestUpstream"/> answers to one request: status, body and, for 3xx, a Location.</summary>
public sealed record UpstreamResponse(int Status, byte[] Body, string? Location = null);

/// <summary>
/// A tiny HTTP/1.1 server on a random loopback port, standing in for an application behind nginx. By default every
/// response is 200 with the body <see cref="Name"/>; a responder given to <see cref="Start(string, Func{string, UpstreamResponse})"/>
/// answers by request path instead. A request body is read to its Content-Length; every request line and header block
/// is recorded. Stopped on dispose.
/// </summary>
public sealed class TestUpstream : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Func<string, UpstreamResponse> _respond;
    private readonly Task _acceptLoop;
    private int _requestCount;

    private TestUpstream(string name, IPAddress address, Func<string, UpstreamResponse>? respond)
    {
        Name = name;
        _respond = respond ?? (_ => new UpstreamResponse(200, Encoding.UTF8.GetBytes(name)));
        _listener = new TcpListener(address, 0);
        _listener.Start();
        _acceptLoop = AcceptAsync();
    }

    /// <summary>The body of every default response, so a test can tell which upstream answered.</summary>
    public string Name { get; }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>host:port, ready for an upstream server address.</summary>
    public string Address => $"127.0.0.1:{Port}";

    public int RequestCount => Volatile.Read(ref _requestCount);

    /// <summary>The raw head (request line and headers) of every request received, in order.</summary>
    public ConcurrentQueue<string> Requests { get; } = new();

    public static TestUpstream Start(string name) => new(name, IPAddress.Loopback, null);

    /// <summary>An upstream whose answer to each request is <paramref name="respond"/>(request path).</summary>
    public static TestUpstream Start(string name, Func<string, UpstreamResponse> respond) => new(name, IPAddress.Loopback, respond);

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
                var stream = client.GetStream();
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                timeout.CancelAfter(TimeSpan.FromSeconds(30));
                var buffer = new byte[16 * 1024];
                var received = new List<byte>();
                // Keep-alive: serve requests until the peer closes or 100 requests on one connection.
                for (var served = 0; served < 100; served++)
                {
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
                    var head = Encoding.Latin1.GetString([.. received.Take(headEnd + 4)]);
                    var lines = head.Split("\r\n");
                    var contentLength = lines.Skip(1)
                        .Where(l => l.StartsWith("content-length:", StringComparison.OrdinalIgnoreCase))
                        .Select(l => int.Parse(l["content-length:".Length..].Trim(), CultureInfo.InvariantCulture))
                        .FirstOrDefault();
                    while (received.Count < headEnd + 4 + contentLength)
                    {
                        var read = await stream.ReadAsync(buffer, timeout.Token);
                        if (read == 0)
                        {
                            return;
                        }
                        received.AddRange(buffer.AsSpan(0, read));
                    }
                    received.RemoveRange(0, headEnd + 4 + contentLength);
                    Requests.Enqueue(head);
                    Interlocked.Increment(ref _requestCount);

                    var answer = _respond(lines[0].Split(' ')[1]);
                    var location = answer.Location is null ? "" : $"Location: {answer.Location}\r\n";
                    var response = $"HTTP/1.1 {answer.Status} {(answer.Status == 200 ? "OK" : "Status")}\r\nContent-Type: text/plain\r\nContent-Length: {answer.Body.Length}\r\n{location}\r\n";
                    await stream.WriteAsync(Encoding.ASCII.GetBytes(response), timeout.Token);
                    await stream.WriteAsync(answer.Body, timeout.Token);
                }
            }
            catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException
                or FormatException or IndexOutOfRangeException)
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
