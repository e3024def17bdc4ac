using System.Diagnostics;

namespace NxMesh.AgentSim.Sim;

/// <summary>
/// The simulated agents of one target (AgentHub or floor server): opened in batches, health sent by one ticker that
/// spreads the fleet evenly over the interval (no timer per agent), timings read back per agent.
/// </summary>
internal sealed class SimFleet(Uri target, SimSettings settings, TimeSpan healthInterval, Action<string> log) : IAsyncDisposable
{
    private const int TickMilliseconds = 100;
    private readonly List<SimAgent> _agents = [];
    private readonly CancellationTokenSource _stop = new();
    private Task _ticker = Task.CompletedTask;
    private long _healthSent;

    public IReadOnlyList<SimAgent> Agents => _agents;
    public long HealthSent => Interlocked.Read(ref _healthSent);
    public int ConnectedCount => _agents.Count(a => a.Connected);

    /// <summary>
    /// Adds agents (one per token; a null token is for the floor server) in batches of <paramref name="batchSize"/>,
    /// each batch awaited (bounded) before the next opens. Returns how many registered and how long it took.
    /// </summary>
    public async Task<(int Registered, TimeSpan Elapsed)> AddAsync(IReadOnlyList<string> tokens, int batchSize, TimeSpan batchTimeout)
    {
        var started = Stopwatch.GetTimestamp();
        var registered = 0;
        for (var offset = 0; offset < tokens.Count; offset += batchSize)
        {
            var batch = new List<SimAgent>();
            for (var i = offset; i < Math.Min(tokens.Count, offset + batchSize); i++)
            {
                var agent = new SimAgent(_agents.Count, target, settings, tokens[i]);
                _agents.Add(agent);
                batch.Add(agent);
                agent.Start();
            }
            var all = Task.WhenAll(batch.Select(a => a.Registered));
            await Task.WhenAny(all, Task.Delay(batchTimeout));
            registered += batch.Count(a => a.Registered.IsCompletedSuccessfully && a.Registered.Result);
            if ((offset / batchSize) % 10 == 9 || offset + batchSize >= tokens.Count)
            {
                log($"  {registered}/{tokens.Count} new agents registered ({Stopwatch.GetElapsedTime(started).TotalSeconds:F1} s)");
            }
        }
        // Agents of the last batches may still be enrolling: wait for them (bounded) before anyone counts.
        await Task.WhenAny(Task.WhenAll(_agents.Select(a => a.Registered)), Task.Delay(batchTimeout * 2));
        registered = _agents.Count(a => a.Registered.IsCompletedSuccessfully && a.Registered.Result);
        if (_ticker.IsCompleted)
        {
            _ticker = Task.Run(TickAsync);
        }
        return (registered, Stopwatch.GetElapsedTime(started));
    }

    private async Task TickAsync()
    {
        var buckets = Math.Max(1, (int)(healthInterval.TotalMilliseconds / TickMilliseconds));
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(TickMilliseconds));
        var tick = 0L;
        var sends = new List<Task<bool>>();
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token))
            {
                var bucket = (int)(tick++ % buckets);
                sends.Clear();
                for (var i = bucket; i < _agents.Count; i += buckets)
                {
                    var agent = _agents[i];
                    if (agent.Connected)
                    {
                        sends.Add(agent.SendHealthAsync());
                    }
                }
                foreach (var send in sends)
                {
                    if (await send)
                    {
                        Interlocked.Increment(ref _healthSent);
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Arms every agent's registration signal before an outage, so <see cref="WaitAllRegisteredAsync"/> sees the next one.</summary>
    public void ExpectReconnect()
    {
        foreach (var agent in _agents)
        {
            agent.ExpectReconnect();
        }
    }

    public async Task<int> WaitAllRegisteredAsync(TimeSpan timeout)
    {
        await Task.WhenAny(Task.WhenAll(_agents.Select(a => a.Registered)), Task.Delay(timeout));
        return _agents.Count(a => a.Registered.IsCompletedSuccessfully && a.Registered.Result);
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        await _ticker;
        // Closed in parallel batches: 10k sequential disposals would take a while.
        foreach (var chunk in _agents.Chunk(500))
        {
            await Task.WhenAll(chunk.Select(a => a.DisposeAsync().AsTask()));
        }
        _agents.Clear();
        _stop.Dispose();
    }
}
