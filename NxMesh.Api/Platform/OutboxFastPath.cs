using System.Data.Common;
using System.Runtime.CompilerServices;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using NxMesh.Data.Entities;
using NxMesh.Data.Messaging;
using StackExchange.Redis;

namespace NxMesh.Api.Platform;

/// <summary>
/// The fast path of "changes reach agents": as soon as the transaction that wrote outbox rows has committed, their
/// relay messages are published to <see cref="HubChannels.Outbox"/>, so the AgentHub recomputes without waiting for
/// its outbox poll. The AgentHub's relay still publishes every row (the safety net, at least once); the duplicate
/// costs one recompute, and unchanged content is never re-pushed. A failed publish is left to the relay.
/// </summary>
internal sealed class OutboxFastPath(IConnectionMultiplexer redis, ILogger<OutboxFastPath> logger) : ISaveChangesInterceptor, IDbTransactionInterceptor
{
    // Rows saved on a context but not yet committed (inside an explicit transaction). Pooled contexts are reused
    // one request at a time, so one list per context instance.
    private readonly ConditionalWeakTable<DbContext, List<OutboxMessage>> _staged = [];

    public InterceptionResult<int> SavingChanges(DbContextEventData eventData, InterceptionResult<int> result)
    {
        Stage(eventData.Context);
        return result;
    }

    public ValueTask<InterceptionResult<int>> SavingChangesAsync(DbContextEventData eventData, InterceptionResult<int> result,
        CancellationToken cancellationToken = default)
    {
        Stage(eventData.Context);
        return ValueTask.FromResult(result);
    }

    public int SavedChanges(SaveChangesCompletedEventData eventData, int result)
    {
        Saved(eventData.Context);
        return result;
    }

    public ValueTask<int> SavedChangesAsync(SaveChangesCompletedEventData eventData, int result, CancellationToken cancellationToken = default)
    {
        Saved(eventData.Context);
        return ValueTask.FromResult(result);
    }

    public void SaveChangesFailed(DbContextErrorEventData eventData) => Discard(eventData.Context);

    public Task SaveChangesFailedAsync(DbContextErrorEventData eventData, CancellationToken cancellationToken = default)
    {
        Discard(eventData.Context);
        return Task.CompletedTask;
    }

    public void TransactionCommitted(DbTransaction transaction, TransactionEndEventData eventData) => Publish(eventData.Context);

    public Task TransactionCommittedAsync(DbTransaction transaction, TransactionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        Publish(eventData.Context);
        return Task.CompletedTask;
    }

    public void TransactionRolledBack(DbTransaction transaction, TransactionEndEventData eventData) => Discard(eventData.Context);

    public Task TransactionRolledBackAsync(DbTransaction transaction, TransactionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        Discard(eventData.Context);
        return Task.CompletedTask;
    }

    private void Stage(DbContext? context)
    {
        if (context is null)
        {
            return;
        }
        var added = context.ChangeTracker.Entries<OutboxMessage>().Where(e => e.State == EntityState.Added).Select(e => e.Entity).ToList();
        if (added.Count > 0)
        {
            _staged.GetOrCreateValue(context).AddRange(added);
        }
    }

    private void Saved(DbContext? context)
    {
        // Without an explicit transaction, SaveChanges committed its own; inside one, wait for its commit.
        if (context is not null && context.Database.CurrentTransaction is null)
        {
            Publish(context);
        }
    }

    private void Discard(DbContext? context)
    {
        if (context is not null && _staged.TryGetValue(context, out var staged))
        {
            staged.Clear();
        }
    }

    private void Publish(DbContext? context)
    {
        if (context is null || !_staged.TryGetValue(context, out var staged) || staged.Count == 0)
        {
            return;
        }
        // SaveChanges' own transaction commits before the generated ids reach the entities: those rows wait for
        // SavedChanges (no transaction left then).
        var rows = staged.Where(r => r.Id > 0).ToList();
        staged.RemoveAll(r => r.Id > 0);
        if (rows.Count == 0)
        {
            return;
        }
        try
        {
            var subscriber = redis.GetSubscriber();
            foreach (var row in rows)
            {
                // Fire and forget: the request does not wait for Redis; the relay covers a lost message.
                subscriber.Publish(RedisChannel.Literal(HubChannels.Outbox),
                    OutboxMessages.RelayMessage(row.Id, row.Type, row.WorkspaceId, row.Payload, row.TraceParent, row.CreatedAt),
                    CommandFlags.FireAndForget);
            }
        }
        catch (RedisException ex)
        {
            logger.LogWarning(ex, "Publishing {Count} outbox message(s) after commit failed; the AgentHub's relay delivers them.", rows.Count);
        }
    }
}
