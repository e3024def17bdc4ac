using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.Channels;
using Grpc.Core;
using NxMesh.Data.Entities;
using NxMesh.Data.Messaging;
using NxMesh.Protocol.V1;

namespace NxMesh.AgentHub.Connections;

/// <summary>
/// One live agent stream on this instance. Producers post into a bounded queue; <see cref="RunWriterAsync"/> is
/// the only writer of the response stream. A full queue means the agent is not reading: the stream is closed
/// rather than letting anyone wait on it.
/// </summary>
/// <remarks>
/// Closing cancels the stream call's own source (the call's token linked with ApplicationStopping) instead of a
/// second source linked to it: one source and two registrations per stream instead of two and three, which at
/// 10,000 streams is measurable. The caller owns and disposes that source after the stream ends.
/// </remarks>
internal sealed class AgentConnection
{
    private readonly Channel<Outgoing> _outgoing;
    private readonly CancellationTokenSource _call;
    private readonly CancellationToken _closedToken;
    private string? _closeReason;
    private Dictionary<string, long>? _applyStartedAt;
    private ConcurrentDictionary<string, string>? _pendingCommands;

    public AgentConnection(Guid agentId, Guid workspaceId, long epoch, int queueCapacity, CancellationTokenSource call)
    {
        AgentId = agentId;
        WorkspaceId = workspaceId;
        Epoch = epoch;
        _outgoing = Channel.CreateBounded<Outgoing>(new BoundedChannelOptions(queueCapacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        _call = call;
        // Read once: the source's Token property throws once the stream has ended and disposed it.
        _closedToken = call.Token;
    }

    public Guid AgentId { get; }
    public Guid WorkspaceId { get; }
    public long Epoch { get; }
    public CancellationToken Closed => _closedToken;
    public string? CloseReason => Volatile.Read(ref _closeReason);

    /// <summary>Serializes config evaluations of this connection.</summary>
    public SemaphoreSlim PushLock { get; } = new(1, 1);

    // Push state, read and written under PushLock.
    public bool HealthSeen { get; set; }
    public string? ReportedChecksum { get; set; }
    public string? DesiredConfigId { get; set; }
    /// <summary>The desired ConfigUpdate last resolved for this agent (shared by every agent with the same config and version: never mutated).</summary>
    public ConfigUpdate? DesiredUpdate { get; set; }
    public string? LastSentConfigId { get; set; }
    public DateTimeOffset LastPushAt { get; set; }
    public string? InFlightConfigId { get; set; }
    public DateTimeOffset InFlightSince { get; set; }
    /// <summary>A config this agent reported FAILED/ROLLED_BACK for: not re-pushed until the desired config changes.</summary>
    public string? FailedConfigId { get; set; }
    public DateTimeOffset? DriftSince { get; set; }
    /// <summary>Whether the record's last apply status was checked against the config the agent runs (once per stream).</summary>
    public bool ApplyStatusReconciled { get; set; }

    /// <summary>Serializes alert evaluations of this connection (a health report and the periodic sweep).</summary>
    public SemaphoreSlim AlertLock { get; } = new(1, 1);
    /// <summary>The last stream health report and the state it gave (read by the alert sweep under AlertLock).</summary>
    public HealthReport? LastHealth { get; set; }
    public AgentState? LastState { get; set; }
    /// <summary>The state this connection last wrote to the agent row (ConnectAsync wrote online); under AlertLock.</summary>
    public AgentState PersistedState { get; set; } = AgentState.Online;

    /// <summary>PENDING timestamps (agent clock, Unix ms) per config_id, for duration_ms; used by the read loop only. Created on first use.</summary>
    public Dictionary<string, long> ApplyStartedAt => _applyStartedAt ??= new Dictionary<string, long>(1, StringComparer.Ordinal);
    /// <summary>Commands sent on this stream: command_id → reply channel. Created on first use (most streams never get one).</summary>
    public ConcurrentDictionary<string, string> PendingCommands => LazyInitializer.EnsureInitialized(ref _pendingCommands);
    public bool HasPendingCommands => Volatile.Read(ref _pendingCommands) is { IsEmpty: false };

    /// <summary>Queues a message for the writer; with a <paramref name="round"/>, its enqueue → written time is recorded there.</summary>
    public bool TryEnqueue(MasterMessage message, WriteRound? round = null)
    {
        if (_closedToken.IsCancellationRequested)
        {
            return false;
        }
        message.Timestamp = message.Timestamp == 0 ? DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() : message.Timestamp;
        if (_outgoing.Writer.TryWrite(new Outgoing(message, Stopwatch.GetTimestamp(), round)))
        {
            return true;
        }
        Close(DisconnectReasons.SlowConsumer);
        return false;
    }

    /// <summary>No more messages: the writer sends what is queued, then ends.</summary>
    public void Complete() => _outgoing.Writer.TryComplete();

    /// <summary>Ends the stream after what is queued has been sent (answering a protocol violation).</summary>
    public void End(string reason)
    {
        Interlocked.CompareExchange(ref _closeReason, reason, null);
        Complete();
    }

    public void Close(string reason)
    {
        Interlocked.CompareExchange(ref _closeReason, reason, null);
        _outgoing.Writer.TryComplete();
        try
        {
            _call.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The stream has ended and its call source is gone: nothing left to close.
        }
    }

    public async Task RunWriterAsync(IServerStreamWriter<MasterMessage> stream)
    {
        try
        {
            await foreach (var (message, enqueuedAt, round) in _outgoing.Reader.ReadAllAsync(Closed))
            {
                var dequeuedAt = round is null ? 0 : Stopwatch.GetTimestamp();
                await stream.WriteAsync(message, Closed);
                round?.Record(enqueuedAt, dequeuedAt, Stopwatch.GetTimestamp());
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or InvalidOperationException)
        {
            // The stream ended (closed, replaced, or the peer went away): the reader loop reports why.
        }
        finally
        {
            Close(DisconnectReasons.ConnectionClosed);
        }
    }

    /// <summary>A queued message and when it was queued (a struct in the channel's buffer: no allocation per message).</summary>
    private readonly record struct Outgoing(MasterMessage Message, long EnqueuedAt, WriteRound? Round);
}
