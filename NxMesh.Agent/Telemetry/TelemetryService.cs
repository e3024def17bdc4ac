using System.Globalization;
using Microsoft.Extensions.Options;
using NxMesh.Agent.Health;
using NxMesh.Agent.Nginx;
using NxMesh.Agent.Upstreams;
using NxMesh.Protocol.V1;

namespace NxMesh.Agent.Telemetry;

/// <summary>
/// Two loops: the access-log tail (every 250 ms; a batch leaves when it is full or the flush interval passed) and
/// the metrics interval. Both hand their batches to the <see cref="TelemetryBuffer"/>. A graceful stop cuts the open
/// log batch, sends the last partial interval, and spools everything still unacked.
/// </summary>
internal sealed partial class TelemetryService : BackgroundService
{
    public const string DroppedEvent = "telemetry.dropped";
    public const string LostBatches = "nxmesh_agent_access_log_lost_batches_total";
    private static readonly TimeSpan RotationQuiet = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);

    private readonly AgentOptions _options;
    private readonly TelemetryBuffer _buffer;
    private readonly INginxControl _control;
    private readonly UpstreamProber _upstreams;
    private readonly LocalFacts _facts;
    private readonly TimeProvider _time;
    private readonly ILogger<TelemetryService> _logger;
    private readonly AccessMetrics _access = new();
    private readonly IntervalMetrics _interval;
    private AccessLogTail? _tail;
    private bool _stopped;
    private long _reportedLost;

    public TelemetryService(
        IOptions<AgentOptions> options, TelemetryBuffer buffer, INginxControl control, UpstreamProber upstreams, LocalFacts facts,
        TimeProvider time, ILogger<TelemetryService> logger)
    {
        _options = options.Value;
        _buffer = buffer;
        _control = control;
        _upstreams = upstreams;
        _facts = facts;
        _time = time;
        _logger = logger;
        _interval = new IntervalMetrics(Path.GetFullPath(_options.StateDirectory), _options.StubStatusPort);
    }

    public string StatePath => Path.Combine(Path.GetFullPath(_options.StateDirectory), "telemetry", "access-log.state.json");

    /// <summary>The tail, once started (rotation/truncation/lost counters for tests and diagnostics).</summary>
    public AccessLogTail? Tail => _tail;

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(TailLoopAsync(stoppingToken), MetricsLoopAsync(stoppingToken));

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        if (_stopped)
        {
            return;
        }
        _stopped = true;
        try
        {
            if (_tail is not null)
            {
                Submit(_tail.Read(flush: true));
            }
            await ShipMetricsAsync(final: true, CancellationToken.None);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            LogTailFailed(ex.Message);
        }
        _buffer.SpillAll();
        _tail?.Dispose();
        _interval.Dispose();
    }

    private async Task TailLoopAsync(CancellationToken stoppingToken)
    {
        var path = _options.ResolvedAccessLogPath;
        _tail = new AccessLogTail(path, StatePath, _options.LogBatchMaxLines, _options.LogBatchMaxBytes, RotationQuiet);
        try
        {
            Submit(_tail.Recover());
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            LogTailFailed(ex.Message);
        }
        var flushEvery = TimeSpan.FromMilliseconds(_options.LogFlushIntervalMilliseconds);
        var lastFlush = _time.GetTimestamp();
        using var timer = new PeriodicTimer(PollInterval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                var flush = _time.GetElapsedTime(lastFlush) >= flushEvery;
                try
                {
                    Submit(_tail.Read(flush));
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    LogTailFailed(ex.Message);
                }
                if (flush)
                {
                    lastFlush = _time.GetTimestamp();
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task MetricsLoopAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(_options.MetricsIntervalSeconds), _time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await ShipMetricsAsync(final: false, stoppingToken);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void Submit(IReadOnlyList<TailBatch> batches)
    {
        foreach (var batch in batches)
        {
            var logs = new LogBatch { BatchId = batch.BatchId };
            var unparsed = 0;
            foreach (var line in batch.Lines)
            {
                if (AccessLogRecord.Parse(line) is not { } record)
                {
                    unparsed++;
                    continue;
                }
                logs.Access.Add(record.ToWire());
                // Replayed lines were counted by the run that first read them.
                if (!batch.Replayed)
                {
                    _access.Observe(record);
                }
            }
            if (unparsed > 0 && !batch.Replayed)
            {
                _access.ObserveUnparsed(unparsed);
            }
            var tail = _tail!;
            var sequence = batch.Sequence;
            if (logs.Access.Count == 0)
            {
                tail.Settle(sequence);
                continue;
            }
            _buffer.Add(logs, () => tail.Settle(sequence));
        }
    }

    private async Task ShipMetricsAsync(bool final, CancellationToken cancellationToken)
    {
        var timestamp = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var batch = new MetricsBatch { BatchId = Guid.NewGuid().ToString(), Timestamp = timestamp };
        batch.Metrics.AddRange(_access.Drain(timestamp));
        if (!final)
        {
            batch.Metrics.AddRange(await _interval.SampleNginxAsync(_control.MasterPid is not null, timestamp, _time, cancellationToken));
            batch.Metrics.AddRange(_interval.SampleSystem(timestamp));
            batch.Metrics.AddRange(IntervalMetrics.SampleUpstreams(_upstreams.Snapshot(), timestamp));
        }
        if (_tail?.LostBatches is { } lost && lost > _reportedLost)
        {
            batch.Metrics.Add(new Metric { Name = LostBatches, Value = lost - _reportedLost, Type = MetricType.Counter, Timestamp = timestamp });
            _reportedLost = lost;
        }
        batch.Metrics.AddRange(_interval.SampleBuffer(_buffer, timestamp, out var drops));
        foreach (var (kind, reason, batches, items) in drops)
        {
            _facts.Record(DroppedEvent, new Dictionary<string, string>
            {
                ["kind"] = kind,
                ["reason"] = reason,
                ["batches"] = batches.ToString(CultureInfo.InvariantCulture),
                ["items"] = items.ToString(CultureInfo.InvariantCulture),
            }, "warning", $"telemetry dropped {items} {kind} items ({reason})");
        }
        if (batch.Metrics.Count > 0)
        {
            _buffer.Add(batch);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "access log tail: {Reason}")]
    private partial void LogTailFailed(string reason);
}
