using System.Globalization;
using System.Threading.Channels;
using Google.Protobuf;
using Microsoft.Extensions.Options;
using NxMesh.Protocol.V1;

namespace NxMesh.Agent.Telemetry;

/// <summary>
/// Every LogBatch and MetricsBatch waits here until the master acks its batch_id. Unacked batches stay in memory up
/// to <see cref="AgentOptions.TelemetryMemoryLimitBytes"/>; beyond that they spill to the disk spool (one 0600 file
/// per batch, written and flushed before it counts) up to <see cref="AgentOptions.TelemetrySpoolLimitBytes"/>, where
/// the oldest spooled batches give way. A graceful stop spools what is still in memory; the spool is sent again after
/// a restart. Dropped batches and items are counted by kind and reason (<see cref="Dropped"/>).
/// The master connection asks for the next batch (<see cref="TryTakeNext"/>): at most <see cref="Window"/> are in
/// flight; one without an answer for the ack timeout, or answered with success=false (after a growing delay), is sent
/// again; every (re)connect sends everything unacked again.
/// </summary>
internal sealed partial class TelemetryBuffer
{
    public const int Window = 32;
    public const string Logs = "logs";
    public const string Metrics = "metrics";
    public const string ReasonSpoolFull = "spool_full";
    public const string ReasonMemoryFull = "memory_full";
    public const string ReasonTooLarge = "too_large";
    public const string ReasonSpoolError = "spool_error";

    private readonly Lock _gate = new();
    private readonly SortedDictionary<long, Entry> _entries = [];
    private readonly Dictionary<string, long> _byBatchId = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Kind, string Reason), (long Batches, long Items)> _dropped = [];
    private readonly Channel<bool> _signal = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly TimeProvider _time;
    private readonly ILogger<TelemetryBuffer> _logger;
    private readonly long _memoryLimit;
    private readonly long _spoolLimit;
    private readonly TimeSpan _ackTimeout;
    private long _nextSequence;
    private long _memoryBytes;
    private long _spoolBytes;
    private int _inFlight;
    private long _acked;

    public TelemetryBuffer(IOptions<AgentOptions> options, TimeProvider time, ILogger<TelemetryBuffer> logger)
    {
        _time = time;
        _logger = logger;
        _memoryLimit = options.Value.TelemetryMemoryLimitBytes;
        _spoolLimit = options.Value.TelemetrySpoolLimitBytes;
        _ackTimeout = TimeSpan.FromSeconds(options.Value.TelemetryAckTimeoutSeconds);
        SpoolDirectory = Path.Combine(Path.GetFullPath(options.Value.StateDirectory), "telemetry", "spool");
        LoadSpool();
    }

    public string SpoolDirectory { get; }

    public long MemoryBytes { get { lock (_gate) { return _memoryBytes; } } }

    public long SpoolBytes { get { lock (_gate) { return _spoolBytes; } } }

    public int Count { get { lock (_gate) { return _entries.Count; } } }

    public long Acked { get { lock (_gate) { return _acked; } } }

    /// <summary>Totals since start (and of the spool's own drops) by (kind, reason).</summary>
    public IReadOnlyDictionary<(string Kind, string Reason), (long Batches, long Items)> Dropped
    {
        get
        {
            lock (_gate)
            {
                return new Dictionary<(string, string), (long, long)>(_dropped);
            }
        }
    }

    /// <summary><paramref name="settled"/> runs once the batch is acked, spooled or dropped.</summary>
    public void Add(LogBatch batch, Action? settled) => Add(new Entry(Logs, batch.BatchId, batch.Entries.Count + batch.Access.Count) { Message = batch, Settled = settled });

    public void Add(MetricsBatch batch) => Add(new Entry(Metrics, batch.BatchId, batch.Metrics.Count) { Message = batch });

    /// <summary>A new stream: everything unacked goes out again.</summary>
    public void SessionStarted()
    {
        lock (_gate)
        {
            foreach (var entry in _entries.Values)
            {
                entry.SentAt = null;
                entry.NotBefore = DateTimeOffset.MinValue;
            }
            _inFlight = 0;
        }
        _signal.Writer.TryWrite(true);
    }

    /// <summary>The next batch to send on the current stream, if the window allows one.</summary>
    public bool TryTakeNext(out AgentMessage message)
    {
        List<Action> settled = [];
        try
        {
            lock (_gate)
            {
                var now = _time.GetUtcNow();
                foreach (var entry in _entries.Values.ToList())
                {
                    if (entry.SentAt is { } sent)
                    {
                        if (now - sent < _ackTimeout)
                        {
                            continue;
                        }
                        entry.SentAt = null;
                        _inFlight--;
                    }
                    if (entry.NotBefore > now)
                    {
                        continue;
                    }
                    if (_inFlight >= Window)
                    {
                        break;
                    }
                    var payload = entry.Message ?? ReadSpooled(entry);
                    if (payload is null)
                    {
                        Remove(entry);
                        CountDrop(entry, ReasonSpoolError, settled);
                        continue;
                    }
                    entry.SentAt = now;
                    _inFlight++;
                    message = payload switch
                    {
                        LogBatch logs => new AgentMessage { Logs = logs, Timestamp = now.ToUnixTimeMilliseconds() },
                        MetricsBatch metrics => new AgentMessage { Metrics = metrics, Timestamp = now.ToUnixTimeMilliseconds() },
                        _ => throw new InvalidOperationException("unknown batch type"),
                    };
                    return true;
                }
            }
            message = null!;
            return false;
        }
        finally
        {
            settled.ForEach(s => s());
        }
    }

    /// <summary>Completes when a batch may be ready (new, acked, or a resend falls due; at the latest after a second).</summary>
    public async Task WaitAsync(CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(1));
        try
        {
            await _signal.Reader.WaitToReadAsync(timeout.Token);
            _signal.Reader.TryRead(out _);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
        }
    }

    public void Acknowledge(Ack ack)
    {
        Action? settled = null;
        lock (_gate)
        {
            if (!_byBatchId.TryGetValue(ack.MessageId, out var sequence) || !_entries.TryGetValue(sequence, out var entry))
            {
                return;
            }
            if (entry.SentAt is not null)
            {
                entry.SentAt = null;
                _inFlight--;
            }
            if (ack.Success)
            {
                Remove(entry);
                _acked++;
                settled = entry.Settled;
                entry.Settled = null;
            }
            else
            {
                entry.Attempts++;
                var delay = TimeSpan.FromSeconds(Math.Min(60, 5 * Math.Pow(2, Math.Min(entry.Attempts - 1, 4))));
                entry.NotBefore = _time.GetUtcNow() + delay;
                if (entry.Attempts == 1)
                {
                    LogRefused(entry.Kind, entry.BatchId, ack.ErrorMessage, delay.TotalSeconds);
                }
            }
        }
        _signal.Writer.TryWrite(true);
        settled?.Invoke();
    }

    /// <summary>At a graceful stop: whatever is only in memory goes to the spool (within its bound).</summary>
    public void SpillAll()
    {
        List<Action> settled = [];
        lock (_gate)
        {
            foreach (var entry in _entries.Values.Where(e => e.Message is not null).ToList())
            {
                _memoryBytes -= entry.Size;
                Spool(entry, settled);
            }
        }
        settled.ForEach(s => s());
    }

    private void Add(Entry entry)
    {
        List<Action> settled = [];
        lock (_gate)
        {
            entry.Sequence = _nextSequence++;
            entry.Size = entry.Message!.CalculateSize();
            _entries[entry.Sequence] = entry;
            _byBatchId[entry.BatchId] = entry.Sequence;
            if (_memoryBytes + entry.Size <= _memoryLimit)
            {
                _memoryBytes += entry.Size;
            }
            else if (_spoolLimit > 0)
            {
                Spool(entry, settled);
            }
            else
            {
                // No spool: the oldest batches in memory give way to the newest.
                foreach (var old in _entries.Values.Where(e => e.Message is not null && e != entry).ToList())
                {
                    if (_memoryBytes + entry.Size <= _memoryLimit)
                    {
                        break;
                    }
                    Remove(old);
                    CountDrop(old, ReasonMemoryFull, settled);
                }
                if (_memoryBytes + entry.Size <= _memoryLimit)
                {
                    _memoryBytes += entry.Size;
                }
                else
                {
                    Remove(entry, countedInMemory: false);
                    CountDrop(entry, ReasonTooLarge, settled);
                }
            }
        }
        _signal.Writer.TryWrite(true);
        settled.ForEach(s => s());
    }

    /// <summary>Moves an entry (not counted in memory any more) to disk, making room by dropping the oldest spooled ones.</summary>
    private void Spool(Entry entry, List<Action> settled)
    {
        if (entry.Size > _spoolLimit)
        {
            Remove(entry, countedInMemory: false);
            CountDrop(entry, ReasonTooLarge, settled);
            return;
        }
        foreach (var old in _entries.Values.Where(e => e.SpoolPath is not null).ToList())
        {
            if (_spoolBytes + entry.Size <= _spoolLimit)
            {
                break;
            }
            Remove(old);
            CountDrop(old, ReasonSpoolFull, settled);
        }
        var path = Path.Combine(SpoolDirectory, string.Create(CultureInfo.InvariantCulture, $"{entry.Sequence:D19}.{entry.Kind}.{entry.Items}.{entry.BatchId}.pb"));
        try
        {
            Directory.CreateDirectory(SpoolDirectory);
            var temporary = path + ".tmp";
            using (var stream = new FileStream(temporary, new FileStreamOptions
            {
                Mode = FileMode.Create,
                Access = FileAccess.Write,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            }))
            {
                entry.Message!.WriteTo(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, path, overwrite: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            LogSpoolFailed(ex.Message);
            Remove(entry, countedInMemory: false);
            CountDrop(entry, ReasonSpoolError, settled);
            return;
        }
        entry.Message = null;
        entry.SpoolPath = path;
        _spoolBytes += entry.Size;
        if (entry.Settled is { } done)
        {
            settled.Add(done);
            entry.Settled = null;
        }
    }

    private void Remove(Entry entry, bool countedInMemory = true)
    {
        if (!_entries.Remove(entry.Sequence))
        {
            return;
        }
        _byBatchId.Remove(entry.BatchId);
        if (entry.SentAt is not null)
        {
            _inFlight--;
            entry.SentAt = null;
        }
        if (entry.SpoolPath is { } path)
        {
            _spoolBytes -= entry.Size;
            try
            {
                File.Delete(path);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                LogSpoolFailed(ex.Message);
            }
        }
        else if (countedInMemory)
        {
            _memoryBytes -= entry.Size;
        }
    }

    private void CountDrop(Entry entry, string reason, List<Action> settled)
    {
        var key = (entry.Kind, reason);
        var (batches, items) = _dropped.GetValueOrDefault(key);
        _dropped[key] = (batches + 1, items + entry.Items);
        if (entry.Settled is { } done)
        {
            settled.Add(done);
            entry.Settled = null;
        }
        LogDropped(entry.Kind, entry.BatchId, entry.Items, reason);
    }

    private IMessage? ReadSpooled(Entry entry)
    {
        try
        {
            var bytes = File.ReadAllBytes(entry.SpoolPath!);
            return entry.Kind == Logs ? LogBatch.Parser.ParseFrom(bytes) : MetricsBatch.Parser.ParseFrom(bytes);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidProtocolBufferException)
        {
            LogSpoolFailed(ex.Message);
            return null;
        }
    }

    private void LoadSpool()
    {
        if (!Directory.Exists(SpoolDirectory))
        {
            return;
        }
        foreach (var file in Directory.EnumerateFiles(SpoolDirectory).Order(StringComparer.Ordinal))
        {
            var parts = Path.GetFileName(file).Split('.');
            if (parts.Length != 5 || parts[4] != "pb" || !long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var sequence)
                || parts[1] is not (Logs or Metrics) || !int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var items))
            {
                File.Delete(file); // a torn temporary file from a crash mid-write
                continue;
            }
            var entry = new Entry(parts[1], parts[3], items) { Sequence = sequence, SpoolPath = file, Size = (int)new FileInfo(file).Length };
            _entries[sequence] = entry;
            _byBatchId[entry.BatchId] = sequence;
            _spoolBytes += entry.Size;
            _nextSequence = Math.Max(_nextSequence, sequence + 1);
        }
    }

    private sealed class Entry(string kind, string batchId, int items)
    {
        public string Kind { get; } = kind;
        public string BatchId { get; } = batchId;
        public int Items { get; } = items;
        public long Sequence { get; set; }
        public int Size { get; set; }
        public IMessage? Message { get; set; }
        public string? SpoolPath { get; set; }
        public Action? Settled { get; set; }
        public DateTimeOffset? SentAt { get; set; }
        public DateTimeOffset NotBefore { get; set; } = DateTimeOffset.MinValue;
        public int Attempts { get; set; }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "the master did not store {Kind} batch {BatchId} ({Reason}); sending it again in {Seconds} s")]
    private partial void LogRefused(string kind, string batchId, string reason, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "dropped {Kind} batch {BatchId} ({Items} items): {Reason}")]
    private partial void LogDropped(string kind, string batchId, int items, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "telemetry spool: {Reason}")]
    private partial void LogSpoolFailed(string reason);
}
