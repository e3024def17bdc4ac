using System.Collections.Concurrent;
using System.Net;

namespace NxMesh.Agent.Tests;

/// <summary>
/// Requests a site through nginx every few milliseconds on fresh connections while a test changes things, and
/// records every failure (an exception or an unexpected status).
/// </summary>
internal sealed class BackgroundProbe : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(5) };
    private int _successes;

    private BackgroundProbe(Uri url, HttpStatusCode expected)
    {
        _loop = Task.Run(() => RunAsync(url, expected));
    }

    public ConcurrentQueue<string> Failures { get; } = new();
    public int Successes => Volatile.Read(ref _successes);

    public static BackgroundProbe Start(Uri url, HttpStatusCode expected = HttpStatusCode.OK) => new(url, expected);

    /// <summary>Stops probing and returns (successes, failures).</summary>
    public async Task<(int Successes, string[] Failures)> StopAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        return (Successes, Failures.ToArray());
    }

    private async Task RunAsync(Uri url, HttpStatusCode expected)
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, url);
                request.Headers.ConnectionClose = true;
                using var response = await _http.SendAsync(request, _stop.Token);
                if (response.StatusCode == expected)
                {
                    Interlocked.Increment(ref _successes);
                }
                else
                {
                    Failures.Enqueue($"{DateTime.UtcNow:O} HTTP {(int)response.StatusCode}");
                }
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException)
            {
                Failures.Enqueue($"{DateTime.UtcNow:O} {ex.GetType().Name}: {ex.Message}");
            }
            try
            {
                await Task.Delay(5, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested)
        {
            await StopAsync();
        }
        _http.Dispose();
        _stop.Dispose();
    }
}
