using System.Diagnostics;
using Microsoft.Extensions.Options;
using NxMesh.AgentHub.Connections;

namespace NxMesh.AgentHub.Memory;

/// <summary>Settings of <see cref="HeapTrim"/> (configuration section <c>HeapTrim</c>).</summary>
public sealed class HeapTrimOptions
{
    public const string Section = "HeapTrim";

    public bool Enabled { get; set; } = true;
    public int CheckIntervalSeconds { get; set; } = 5;
    /// <summary>At most one trim per this interval: each is a blocking full collection (≈ 0.2–1 s at 10,000 agents).</summary>
    public int MinIntervalSeconds { get; set; } = 600;
    /// <summary>
    /// The shorter spacing once the fleet has grown or shrunk by <see cref="ResizeFraction"/> since the last trim: a
    /// fleet that settles at a new size (a rollout, a second wave of agents) is trimmed then, not up to 10 min later.
    /// </summary>
    public int MinIntervalAfterResizeSeconds { get; set; } = 60;
    public double ResizeFraction { get; set; } = 0.25;
    /// <summary>Slack = GC committed bytes − live bytes (heap size after the last GC minus its fragmentation).</summary>
    public long MinSlackBytes { get; set; } = 64L << 20;
    public double MinSlackFraction { get; set; } = 0.15;
}

/// <summary>When to trim: the fleet has settled and the GC holds much more than is live.</summary>
public static class HeapTrimPolicy
{
    public static long Slack(long committedBytes, long heapSizeBytes, long fragmentedBytes) =>
        committedBytes - (heapSizeBytes - fragmentedBytes);

    /// <summary>
    /// True when the connection count moved by at most 1 % (10 at least) since the previous check — a fleet still
    /// connecting would grow the heap again right after — no trim ran within the minimum interval (the shorter one
    /// when the fleet's size changed by the resize fraction, 100 agents at least, since the last trim's), and the
    /// slack exceeds both thresholds.
    /// </summary>
    public static bool ShouldTrim(HeapTrimOptions options, long committedBytes, long heapSizeBytes, long fragmentedBytes,
        int connections, int previousConnections, TimeSpan? sinceLastTrim, int connectionsAtLastTrim = 0)
    {
        var settled = Math.Abs(connections - previousConnections) <= Math.Max(10, previousConnections / 100);
        var resized = Math.Abs(connections - connectionsAtLastTrim) >= Math.Max(100, connectionsAtLastTrim * options.ResizeFraction);
        var interval = TimeSpan.FromSeconds(resized ? Math.Min(options.MinIntervalAfterResizeSeconds, options.MinIntervalSeconds) : options.MinIntervalSeconds);
        var slack = Slack(committedBytes, heapSizeBytes, fragmentedBytes);
        return settled
            && (sinceLastTrim is null || sinceLastTrim >= interval)
            && slack >= options.MinSlackBytes
            && slack >= committedBytes * options.MinSlackFraction;
    }
}

/// <summary>
/// Gives the GC's slack back once the fleet has settled. A hub's heap grows while agents connect and then barely
/// moves: gen2 collections, which would compact it (ConserveMemory) and release free regions, almost never come, so
/// at 10,000 agents 130–180 MB stayed committed beyond the live heap (fragmentation and retained regions). One
/// aggressive collection (compacts every generation, decommits what is free) after the fleet settles returns it.
/// README "Benchmarks (issue 9)", item 1, third pass.
/// </summary>
public sealed partial class HeapTrim : BackgroundService
{
    private readonly ConnectionRegistry _connections;
    private readonly HeapTrimOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<HeapTrim> _logger;
    private int _trims;

    internal HeapTrim(ConnectionRegistry connections, IOptions<HeapTrimOptions> options, TimeProvider time, ILogger<HeapTrim> logger)
    {
        _connections = connections;
        _options = options.Value;
        _time = time;
        _logger = logger;
    }

    /// <summary>Trims run since start.</summary>
    public int Trims => Volatile.Read(ref _trims);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!_options.Enabled)
        {
            return;
        }
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(_options.CheckIntervalSeconds), _time);
        var previous = _connections.Count;
        long? lastTrim = null;
        var connectionsAtLastTrim = 0;
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                var connections = _connections.Count;
                var info = GC.GetGCMemoryInfo(GCKind.Any);
                var sinceLastTrim = lastTrim is { } last ? _time.GetElapsedTime(last) : (TimeSpan?)null;
                if (HeapTrimPolicy.ShouldTrim(_options, info.TotalCommittedBytes, info.HeapSizeBytes, info.FragmentedBytes,
                        connections, previous, sinceLastTrim, connectionsAtLastTrim))
                {
                    Trim(info, connections);
                    lastTrim = _time.GetTimestamp();
                    connectionsAtLastTrim = connections;
                }
                previous = connections;
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private void Trim(GCMemoryInfo before, int connections)
    {
        var started = Stopwatch.GetTimestamp();
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        var elapsed = Stopwatch.GetElapsedTime(started);
        var after = GC.GetGCMemoryInfo(GCKind.Any);
        Interlocked.Increment(ref _trims);
        LogTrimmed(connections, before.TotalCommittedBytes >> 20, after.TotalCommittedBytes >> 20,
            HeapTrimPolicy.Slack(before.TotalCommittedBytes, before.HeapSizeBytes, before.FragmentedBytes) >> 20,
            after.HeapSizeBytes >> 20, elapsed.TotalMilliseconds);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Heap trimmed at {Connections} connections: GC committed {BeforeMiB} → {AfterMiB} MiB (slack was {SlackMiB} MiB, heap now {HeapMiB} MiB), blocking {Milliseconds:F0} ms")]
    private partial void LogTrimmed(int connections, long beforeMiB, long afterMiB, long slackMiB, long heapMiB, double milliseconds);
}

internal static class HeapTrimExtensions
{
    public static void AddHeapTrim(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<HeapTrimOptions>().Bind(builder.Configuration.GetSection(HeapTrimOptions.Section));
        builder.Services.AddSingleton(sp => new HeapTrim(sp.GetRequiredService<ConnectionRegistry>(),
            sp.GetRequiredService<IOptions<HeapTrimOptions>>(), sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<HeapTrim>>()));
        builder.Services.AddHostedService(sp => sp.GetRequiredService<HeapTrim>());
    }
}
