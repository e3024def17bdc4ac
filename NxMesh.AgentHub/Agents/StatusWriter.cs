using System.Threading.Channels;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using NxMesh.Data;
using NxMesh.Data.Configurations;
using Proto = NxMesh.Protocol.V1;

namespace NxMesh.AgentHub.Agents;

/// <summary>One ConfigStatus waiting to be recorded; <see cref="Recorded"/> says whether the connection was still current.</summary>
internal sealed class PendingStatus(Guid agentId, Guid workspaceId, long epoch, Proto.ConfigStatus status, long durationMs,
    DateTimeOffset? startedAt, DateTimeOffset finishedAt)
{
    public Guid AgentId { get; } = agentId;
    public Guid WorkspaceId { get; } = workspaceId;
    public long Epoch { get; } = epoch;
    public Proto.ConfigStatus Status { get; } = status;
    public long DurationMs { get; } = durationMs;
    public DateTimeOffset? StartedAt { get; } = startedAt;
    public DateTimeOffset FinishedAt { get; } = finishedAt;
    public TaskCompletionSource<bool> Recorded { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>
/// Records ConfigStatus messages in batches (for
/// all agents that reported within <see cref="AgentHubOptions.BatchWindowMilliseconds"/>): the newest status of each
/// agent updates <c>last_apply_status/error/at</c> under its connection epoch, its newest SUCCESS the applied config
/// id/version, and every terminal status of an agent whose row was current becomes a <c>config_apply_history</c>
/// row — one statement per batch. Each caller awaits its own outcome, so a stream still handles its statuses in order.
/// </summary>
internal sealed class StatusWriter(IServiceScopeFactory scopes, IOptions<AgentHubOptions> options, TimeProvider time, ILogger<StatusWriter> logger)
    : BackgroundService
{
    private readonly Channel<PendingStatus> _queue = Channel.CreateUnbounded<PendingStatus>(new UnboundedChannelOptions { SingleReader = true });

    /// <summary>True when recorded; false when the connection is no longer current (replaced or deleted).</summary>
    public async Task<bool> RecordAsync(PendingStatus status, CancellationToken cancellationToken)
    {
        if (!_queue.Writer.TryWrite(status))
        {
            throw new OperationCanceledException("AgentHub is stopping.");
        }
        return await status.Recorded.Task.WaitAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = TimeSpan.FromMilliseconds(Math.Max(1, options.Value.BatchWindowMilliseconds));
        var batch = new List<PendingStatus>();
        try
        {
            while (await _queue.Reader.WaitToReadAsync(stoppingToken))
            {
                // The first status opens a short window: statuses of other agents arriving in it share the statement.
                await Task.Delay(interval, stoppingToken);
                while (batch.Count < options.Value.HealthBatchSize && _queue.Reader.TryRead(out var status))
                {
                    batch.Add(status);
                }
                try
                {
                    var current = await WriteAsync(batch);
                    foreach (var status in batch)
                    {
                        status.Recorded.TrySetResult(current.Contains(status.AgentId));
                    }
                }
                catch (Exception ex)
                {
                    logger.LogWarning(ex, "Recording {Count} config statuses failed.", batch.Count);
                    foreach (var status in batch)
                    {
                        status.Recorded.TrySetException(ex);
                    }
                }
                batch.Clear();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        _queue.Writer.TryComplete();
        while (_queue.Reader.TryRead(out var left))
        {
            left.Recorded.TrySetCanceled(CancellationToken.None);
        }
    }

    private async Task<HashSet<Guid>> WriteAsync(List<PendingStatus> batch)
    {
        var n = batch.Count;
        var seq = new int[n];
        var agent = new Guid[n];
        var workspace = new Guid[n];
        var epoch = new long[n];
        var status = new string[n];
        var error = new string?[n];
        var configId = new string[n];
        var version = new long[n];
        var terminal = new bool[n];
        var duration = new long[n];
        var started = new DateTimeOffset?[n];
        var finished = new DateTimeOffset[n];
        for (var i = 0; i < n; i++)
        {
            var s = batch[i];
            seq[i] = i;
            agent[i] = s.AgentId;
            workspace[i] = s.WorkspaceId;
            epoch[i] = s.Epoch;
            status[i] = EnumNames.ToSnakeCase(AgentStore.ToEntity(s.Status.Status));
            error[i] = string.IsNullOrEmpty(s.Status.ErrorMessage) ? null : s.Status.ErrorMessage;
            configId[i] = s.Status.ConfigId;
            version[i] = s.Status.Version;
            terminal[i] = AgentStore.IsTerminal(s.Status.Status);
            duration[i] = s.DurationMs;
            started[i] = s.StartedAt?.ToUniversalTime();
            finished[i] = s.FinishedAt.ToUniversalTime();
        }
        var now = time.GetUtcNow();
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<NxMeshDbContext>();
        var current = await db.Database.SqlQuery<Guid>($"""
            WITH x AS (
                SELECT * FROM unnest({seq}::int[], {agent}::uuid[], {workspace}::uuid[], {epoch}::bigint[], {status}::text[], {error}::text[],
                    {configId}::text[], {version}::bigint[], {terminal}::bool[], {duration}::bigint[], {started}::timestamptz[], {finished}::timestamptz[])
                AS t(seq, agent_id, workspace_id, epoch, status, error, config_id, version, terminal, duration, started_at, finished_at)
            ), latest AS (
                SELECT DISTINCT ON (agent_id) * FROM x ORDER BY agent_id, seq DESC
            ), latest_success AS (
                SELECT DISTINCT ON (agent_id) agent_id, config_id, version FROM x WHERE status = 'success' ORDER BY agent_id, seq DESC
            ), updated AS (
                UPDATE agents a SET last_apply_status = l.status, last_apply_error = l.error, last_apply_at = {now},
                    applied_config_id = COALESCE(s.config_id, a.applied_config_id),
                    applied_config_version = COALESCE(s.version, a.applied_config_version)
                FROM latest l LEFT JOIN latest_success s ON s.agent_id = l.agent_id
                WHERE a.id = l.agent_id AND a.connection_epoch = l.epoch
                RETURNING a.id
            ), inserted AS (
                INSERT INTO config_apply_history (agent_id, workspace_id, config_id, version, status, error_message, duration_ms, started_at,
                    finished_at, recorded_at)
                SELECT agent_id, workspace_id, config_id, version, status, error, duration, started_at, finished_at, {now}
                FROM x WHERE terminal AND agent_id IN (SELECT id FROM updated)
                ORDER BY seq
            )
            SELECT id AS "Value" FROM updated
            """).ToListAsync(CancellationToken.None);
        return [.. current];
    }
}
