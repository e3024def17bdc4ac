using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace NxMesh.Testing;

/// <summary>
/// A tiny HTTP/1.1 server on a random loopback port, standing in for an application behind nginx. Every response
/// is 200 with the body <see cref="Name"/>; every request line and header block is recorded. Stopped on dispose.
/// </summary>
public sealed class TestUpstream : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _acceptLoop;
    private int _requestCount;

    private TestUpstream(string name, IPAddress address)
    {
        Name = name;
        _listener = new TcpListener(address, 0);
        _listener.Start();
        _acceptLoop = AcceptAsync();
    }

    /// <summary>The body of every response, so a test can tell which upstream answered.</summary>
    public string Name { get; }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>host:port, ready for an upstream server address.</summary>
    public string Address => $"127.0.0.1:{Port}";

    public int RequestCount => Volatile.Read(ref _requestCount);

    /// <summary>The raw head (request line and headers) of every request received, in order.</summary>
    public ConcurrentQueue<string> Requests { get; } = new();

    public static TestUpstream Start(string name) => new(name, IPAddress.Loopback);

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
                var head = new StringBuilder();
                // Keep-alive: serve requests until the peer closes or 100 requests on one connection.
                for (var served = 0; served < 100; served++)
                {
                    head.Clear();
                    while (!head.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
                    {
                        var read = await stream.ReadAsync(buffer, timeout.Token);
                        if (read == 0)
                        {
                            return;
                        }
                        head.Append(Encoding.Latin1.GetString(buffer, 0, read));
                    }
                    Requests.Enqueue(head.ToString());
                    Interlocked.Increment(ref _requestCount);
                    var body = Encoding.UTF8.GetBytes(Name);
                    var response = $"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {body.Length}\r\n\r\n";
                    await stream.WriteAsync(Encoding.ASCII.GetBytes(response), timeout.Token);
                    await stream.WriteAsync(body, timeout.Token);
                }
            }
            catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
            {
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _acceptLoop;
        _stop.Dispose();
    }
}
