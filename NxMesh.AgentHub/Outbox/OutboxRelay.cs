using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using NxMesh.AgentHub.Agents;
using NxMesh.Data;
using NxMesh.Data.Messaging;
using StackExchange.Redis;

namespace NxMesh.AgentHub.Outbox;

/// <summary>
/// Relays committed outbox rows to Redis (<see cref="HubChannels.Outbox"/>) and marks them processed — the safety net
/// behind the Api's own publish after commit (a duplicate costs one recompute, never a push). Rows are
/// claimed with FOR UPDATE SKIP LOCKED inside a transaction that commits only after publishing, so several
/// instances share the work and a failed publish leaves the rows for the next round (at least once).
/// </summary>
internal sealed class OutboxRelay(IServiceScopeFactory scopes, IConnectionMultiplexer redis, IOptions<AgentHubOptions> options,
    ILogger<OutboxRelay> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = TimeSpan.FromMilliseconds(options.Value.OutboxPollMilliseconds);
        while (!stoppingToken.IsCancellationRequested)
        {
            var relayed = 0;
            try
            {
                relayed = await RelayBatchAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                logger.LogWarning(ex, "Relaying the outbox failed; retrying.");
            }
            if (relayed < options.Value.OutboxBatchSize)
            {
                try
                {
                    await Task.Delay(interval, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    public async Task<int> RelayBatchAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<NxMeshDbContext>();
        return await db.Database.CreateExecutionStrategy().ExecuteAsync(() => RelayBatchAsync(db, cancellationToken));
    }

    private async Task<int> RelayBatchAsync(NxMeshDbContext db, CancellationToken cancellationToken)
    {
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var rows = await db.Database.SqlQuery<OutboxRow>($"""
            UPDATE outbox o SET processed_at = now()
            FROM (SELECT id FROM outbox WHERE processed_at IS NULL ORDER BY id LIMIT {options.Value.OutboxBatchSize} FOR UPDATE SKIP LOCKED) batch
            WHERE o.id = batch.id
            RETURNING o.id AS "Id", o.type AS "Type", o.workspace_id AS "WorkspaceId", o.payload::text AS "Payload", o.trace_parent AS "TraceParent"
            """).ToListAsync(cancellationToken);
        if (rows.Count == 0)
        {
            return 0;
        }
        var subscriber = redis.GetSubscriber();
        foreach (var row in rows.OrderBy(r => r.Id))
        {
            await subscriber.PublishAsync(RedisChannel.Literal(HubChannels.Outbox),
                OutboxMessages.RelayMessage(row.Id, row.Type, row.WorkspaceId, row.Payload, row.TraceParent));
        }
        await transaction.CommitAsync(cancellationToken);
        return rows.Count;
    }

    private sealed record OutboxRow(long Id, string Type, Guid? WorkspaceId, string Payload, string? TraceParent);
}
