using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using NxMesh.AgentHub.Agents;
using NxMesh.AgentHub.Connections;
using NxMesh.Data.Telemetry;
using NxMesh.Protocol.V1;

namespace NxMesh.AgentHub.Telemetry;

/// <summary>
/// Access-log and metrics ingest. Readers (stream loops, ReportMetrics) post batches into one bounded queue; a few
/// writer loops take everything waiting — from any agents, up to <see cref="TelemetryOptions.MaxRowsPerTransaction"/>
/// rows — and store it in one transaction (<see cref="TelemetryWriter"/>). The Ack (message_id = batch_id) is sent
/// only after that commit. A stream may have a few batches in flight, so one agent does not wait a round trip per batch.
/// </summary>
internal sealed class TelemetryIngest(
    TelemetryDataSource dataSource,
    IOptions<TelemetryOptions> options,
    IOptions<AgentHubOptions> hubOptions,
    TimeProvider time,
    ILogger<TelemetryIngest> logger) : BackgroundService
{
    private readonly TelemetryOptions _options = options.Value;
    private readonly Channel<PendingBatch> _queue = Channel.CreateBounded<PendingBatch>(new BoundedChannelOptions(Math.Max(1, options.Value.QueueCapacity))
    {
        FullMode = BoundedChannelFullMode.Wait,
    });
    private readonly ConditionalWeakTable<AgentConnection, SemaphoreSlim> _inFlight = [];

    /// <summary>
    /// Stream path: queues the batch and returns once it is queued; the Ack goes onto the stream after the commit.
    /// Waits while the stream has its maximum of unacknowledged batches.
    /// </summary>
    public async Task AcceptAsync(AgentConnection connection, AgentMessage message)
    {
        var batch = message.PayloadCase == AgentMessage.PayloadOneofCase.Logs
            ? FromLogs(connection.AgentId, connection.WorkspaceId, message.Logs)
            : FromMetrics(connection.AgentId, connection.WorkspaceId, message.Metrics);
        var messageId = message.PayloadCase == AgentMessage.PayloadOneofCase.Logs ? message.Logs.BatchId : message.Metrics.BatchId;
        var slots = _inFlight.GetValue(connection, _ => new SemaphoreSlim(MaxInFlight()));
        await slots.WaitAsync(connection.Closed);
        try
        {
            await _queue.Writer.WriteAsync(batch, connection.Closed);
        }
        catch
        {
            slots.Release();
            throw;
        }
        _ = batch.Done.Task.ContinueWith(done =>
        {
            slots.Release();
            connection.TryEnqueue(new MasterMessage { Ack = ToAck(messageId, done) });
        }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>Unary path: stores the batch and answers the Ack after the commit.</summary>
    public async Task<Ack> IngestAsync(Guid agentId, Guid workspaceId, MetricsBatch metrics, CancellationToken cancellationToken)
    {
        var batch = FromMetrics(agentId, workspaceId, metrics);
        await _queue.Writer.WriteAsync(batch, cancellationToken);
        try
        {
            await batch.Done.Task.WaitAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
        }
        return ToAck(metrics.BatchId, batch.Done.Task);
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(Enumerable.Range(0, Math.Max(1, _options.Writers)).Select(_ => Task.Run(() => WriterLoopAsync(stoppingToken), stoppingToken)));

    private async Task WriterLoopAsync(CancellationToken stoppingToken)
    {
        var group = new List<PendingBatch>();
        try
        {
            while (await _queue.Reader.WaitToReadAsync(stoppingToken))
            {
                group.Clear();
                var rows = 0;
                while (rows < _options.MaxRowsPerTransaction && _queue.Reader.TryRead(out var batch))
                {
                    group.Add(batch);
                    rows += batch.RowCount;
                }
                if (group.Count > 0)
                {
                    await WriteGroupAsync(group, stoppingToken);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        // Whatever is still queued is not stored: its Ack never goes out, so the agent re-sends it.
        while (_queue.Reader.TryRead(out var left))
        {
            left.Done.TrySetCanceled(CancellationToken.None);
        }
    }

    private async Task WriteGroupAsync(List<PendingBatch> group, CancellationToken stoppingToken)
    {
        try
        {
            await TelemetryWriter.WriteAsync(dataSource.DataSource, group, stoppingToken);
            foreach (var batch in group)
            {
                batch.Done.TrySetResult(true);
            }
            return;
        }
        catch (Exception ex) when (group.Count > 1 && !stoppingToken.IsCancellationRequested)
        {
            // One bad batch (or a deadlock with another instance) must not fail its neighbours: retry each alone.
            logger.LogWarning(ex, "A coalesced telemetry write of {Batches} batches failed; retrying them one by one.", group.Count);
        }
        catch (Exception ex)
        {
            Fail(group[0], ex, stoppingToken);
            return;
        }
        foreach (var batch in group)
        {
            try
            {
                await TelemetryWriter.WriteAsync(dataSource.DataSource, [batch], stoppingToken);
                batch.Done.TrySetResult(true);
            }
            catch (Exception ex)
            {
                Fail(batch, ex, stoppingToken);
            }
        }
    }

    private void Fail(PendingBatch batch, Exception ex, CancellationToken stoppingToken)
    {
        if (stoppingToken.IsCancellationRequested)
        {
            batch.Done.TrySetCanceled(stoppingToken);
            return;
        }
        logger.LogError(ex, "Telemetry batch {BatchId} of agent {AgentId} was not stored.", batch.BatchId, batch.AgentId);
        batch.Done.TrySetException(ex);
    }

    private PendingBatch FromLogs(Guid agentId, Guid workspaceId, LogBatch logs) =>
        new(agentId, workspaceId, BatchId(logs.BatchId), PendingBatch.LogsKind, TelemetryRows.AccessLogs(logs, time.GetUtcNow()), null);

    private PendingBatch FromMetrics(Guid agentId, Guid workspaceId, MetricsBatch metrics) =>
        new(agentId, workspaceId, BatchId(metrics.BatchId), PendingBatch.MetricsKind, null, TelemetryRows.Metrics(metrics, time.GetUtcNow()));

    /// <summary>A batch without a UUID cannot be recognised when re-sent; it gets a fresh id and is stored as new.</summary>
    private static Guid BatchId(string value) => Guid.TryParse(value, out var id) ? id : Guid.CreateVersion7();

    private static Ack ToAck(string messageId, Task<bool> done) => done.IsCompletedSuccessfully
        ? new Ack { MessageId = messageId, Success = true }
        : new Ack { MessageId = messageId, Success = false, ErrorMessage = "The batch was not stored; send it again." };

    private int MaxInFlight() => _options.MaxInFlightPerStream > 0
        ? _options.MaxInFlightPerStream
        : Math.Max(1, hubOptions.Value.SendQueueCapacity / 4);
}
