using System.Threading.Channels;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using NxMesh.AgentHub.Connections;
using NxMesh.Data;
using NxMesh.Data.Configurations;
using NxMesh.Data.Entities;
using Proto = NxMesh.Protocol.V1;

namespace NxMesh.AgentHub.Agents;

/// <summary>One health report waiting to be persisted. <see cref="Epoch"/> null: a unary report (no stream).</summary>
internal sealed record PendingHealth(AgentConnection? Connection, Guid AgentId, Guid WorkspaceId, long? Epoch, AgentState? State,
    DateTimeOffset ReceivedAt, Proto.HealthReport Report);

/// <summary>
/// Persists health reports in batches: the readers only queue them; every <see cref="AgentHubOptions.HealthFlushMilliseconds"/>
/// (or at once when someone waits, <see cref="FlushAsync"/>) everything queued is written with one statement per
/// <see cref="AgentHubOptions.HealthBatchSize"/> reports: the newest report of each agent updates the row
/// (<c>last_seen_at</c>, applied config id/version) under its connection epoch, every report of an agent whose
/// row was updated becomes a <c>health_snapshots</c> row. A stream whose report finds no current row (deleted,
/// or replaced by a newer connection) is closed. The state column is written by <see cref="Alerts.HealthAlerts"/>
/// on transitions; here only an agent the offline job marked offline while its stream lives is revived.
/// </summary>
internal sealed class HealthWriter(IServiceScopeFactory scopes, IOptions<AgentHubOptions> options, ILogger<HealthWriter> logger) : BackgroundService
{
    private readonly Channel<PendingHealth> _queue = Channel.CreateUnbounded<PendingHealth>(new UnboundedChannelOptions { SingleReader = true });
    private readonly SemaphoreSlim _flushRequested = new(0, int.MaxValue);
    private TaskCompletionSource _nextFlush = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _stopped;

    public void Enqueue(PendingHealth health) => _queue.Writer.TryWrite(health);

    /// <summary>Completes after a flush that started after this call (so everything queued before it is written).</summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        if (_stopped)
        {
            return;
        }
        var flushed = Volatile.Read(ref _nextFlush).Task;
        _flushRequested.Release();
        await flushed.WaitAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = TimeSpan.FromMilliseconds(Math.Max(1, options.Value.HealthFlushMilliseconds));
        while (true)
        {
            try
            {
                await _flushRequested.WaitAsync(interval, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                // Shutting down: write what is queued, once.
            }
            var done = Interlocked.Exchange(ref _nextFlush, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
            try
            {
                await DrainAsync();
            }
            catch (Exception ex)
            {
                logger.LogWarning(ex, "Persisting health reports failed; those reports are dropped (the next ones carry the same facts).");
            }
            done.TrySetResult();
            if (stoppingToken.IsCancellationRequested)
            {
                _stopped = true;
                Volatile.Read(ref _nextFlush).TrySetResult();
                return;
            }
        }
    }

    private async Task DrainAsync()
    {
        var batch = new List<PendingHealth>();
        while (true)
        {
            while (batch.Count < options.Value.HealthBatchSize && _queue.Reader.TryRead(out var health))
            {
                batch.Add(health);
            }
            if (batch.Count == 0)
            {
                return;
            }
            await WriteAsync(batch);
            batch.Clear();
        }
    }

    private async Task WriteAsync(List<PendingHealth> batch)
    {
        var n = batch.Count;
        var seq = new int[n];
        var agent = new Guid[n];
        var workspace = new Guid[n];
        var epoch = new long?[n];
        var state = new string?[n];
        var at = new DateTimeOffset[n];
        var checksum = new string?[n];
        var version = new long[n];
        var running = new bool[n];
        var pid = new long[n];
        var uptime = new long[n];
        var active = new long[n];
        var total = new long[n];
        var rps = new double[n];
        var cpu = new double[n];
        var memUsed = new long[n];
        var memTotal = new long[n];
        var diskUsed = new long[n];
        var diskTotal = new long[n];
        var load = new double[n];
        for (var i = 0; i < n; i++)
        {
            var h = batch[i];
            var r = h.Report;
            seq[i] = i;
            agent[i] = h.AgentId;
            workspace[i] = h.WorkspaceId;
            epoch[i] = h.Epoch;
            state[i] = h.State is { } s ? EnumNames.ToSnakeCase(s) : null;
            at[i] = h.ReceivedAt.ToUniversalTime();
            checksum[i] = string.IsNullOrEmpty(r.ConfigChecksum) ? null : r.ConfigChecksum;
            version[i] = r.ConfigVersion;
            running[i] = r.Nginx?.IsRunning ?? false;
            pid[i] = r.Nginx?.Pid ?? 0;
            uptime[i] = (long)(r.Nginx?.UptimeSeconds ?? 0);
            active[i] = r.Nginx?.ActiveConnections ?? 0;
            total[i] = (long)(r.Nginx?.TotalRequests ?? 0);
            rps[i] = r.Nginx?.RequestsPerSecond ?? 0;
            cpu[i] = r.System?.CpuPercent ?? 0;
            memUsed[i] = (long)(r.System?.MemoryUsedBytes ?? 0);
            memTotal[i] = (long)(r.System?.MemoryTotalBytes ?? 0);
            diskUsed[i] = (long)(r.System?.DiskUsedBytes ?? 0);
            diskTotal[i] = (long)(r.System?.DiskTotalBytes ?? 0);
            load[i] = r.System?.LoadAverage1M ?? 0;
        }
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<NxMeshDbContext>();
        // One statement: the newest report per agent updates its row (under the epoch, when a stream sent it),
        // the reports of updated agents become snapshots. The ids returned are the agents whose row was current.
        var current = await db.Database.SqlQuery<Guid>($"""
            WITH x AS (
                SELECT * FROM unnest({seq}::int[], {agent}::uuid[], {workspace}::uuid[], {epoch}::bigint[], {state}::text[],
                    {at}::timestamptz[], {checksum}::text[], {version}::bigint[], {running}::bool[], {pid}::bigint[], {uptime}::bigint[],
                    {active}::bigint[], {total}::bigint[], {rps}::float8[], {cpu}::float8[], {memUsed}::bigint[], {memTotal}::bigint[],
                    {diskUsed}::bigint[], {diskTotal}::bigint[], {load}::float8[])
                AS t(seq, agent_id, workspace_id, epoch, state, received_at, checksum, version, running, pid, uptime, active, total, rps,
                    cpu, mem_used, mem_total, disk_used, disk_total, load)
            ), latest AS (
                SELECT DISTINCT ON (agent_id) * FROM x ORDER BY agent_id, seq DESC
            ), updated AS (
                UPDATE agents a SET last_seen_at = l.received_at, applied_config_id = l.checksum, applied_config_version = l.version,
                    state = CASE WHEN a.state = 'offline' AND l.state IS NOT NULL THEN l.state ELSE a.state END
                FROM latest l
                WHERE a.id = l.agent_id AND (l.epoch IS NULL OR a.connection_epoch = l.epoch)
                RETURNING a.id
            ), inserted AS (
                INSERT INTO health_snapshots (agent_id, workspace_id, received_at, nginx_running, nginx_pid, nginx_uptime_seconds,
                    active_connections, total_requests, requests_per_second, cpu_percent, memory_used_bytes, memory_total_bytes,
                    disk_used_bytes, disk_total_bytes, load_average1m, config_checksum, config_version)
                SELECT agent_id, workspace_id, received_at, running, pid, uptime, active, total, rps, cpu, mem_used, mem_total,
                    disk_used, disk_total, load, checksum, version
                FROM x WHERE agent_id IN (SELECT id FROM updated)
                ORDER BY seq
            )
            SELECT id AS "Value" FROM updated
            """).ToListAsync(CancellationToken.None);
        var live = current.ToHashSet();
        foreach (var health in batch)
        {
            if (health.Connection is { } connection && !live.Contains(health.AgentId) && !connection.Closed.IsCancellationRequested)
            {
                // A newer connection won the epoch, or the agent was deleted.
                connection.Close("replaced");
            }
        }
    }
}
