using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Options;
using NxMesh.AgentHub.Agents;
using NxMesh.AgentHub.Connections;
using NxMesh.Data.DesiredConfig;
using NxMesh.Data.Messaging;

namespace NxMesh.AgentHub.Push;

/// <summary>
/// Resolves desired configs in batches, per workspace, and pushes them. Two kinds of requests are debounced
/// (leading edge) and coalesced into one run: "the workspace changed" (<see cref="Notify"/>: every agent of that workspace connected
/// here is re-evaluated) and "this connection has no desired config yet" (<see cref="RequestResolve"/>, from its
/// first health report). A run loads the workspace once, resolves all its agents with
/// <see cref="DesiredConfigBatch"/> (one read, one build per distinct target set, one UPDATE) and then evaluates
/// each connection in memory (<see cref="ConfigPusher.Evaluate"/>), enqueueing pushes on the connections' own
/// bounded queues — the writers send them in parallel. The first request after a quiet period (no run started
/// within <see cref="AgentHubOptions.Debounce"/>) runs at once; requests arriving while a run is pending or running
/// are coalesced into one trailing run that starts no sooner than Debounce after the previous one started and waits
/// for it (<see cref="WorkspaceGates"/>): a burst costs at most two runs per Debounce window, and a snapshot loaded
/// earlier is never pushed after a newer one.
/// The run joins the trace of the newest change it covers (its outbox traceparent).
/// </summary>
internal sealed class WorkspaceRecompute(ConnectionRegistry registry, ConfigPusher pusher, WorkspaceGates gates, IServiceScopeFactory scopes,
    IOptions<AgentHubOptions> options, TimeProvider time, IHostApplicationLifetime lifetime, ILogger<WorkspaceRecompute> logger)
{
    private readonly ConcurrentDictionary<Guid, Pending> _pending = new();

    /// <summary>Something the workspace's configs are built from changed: re-evaluate all its agents here.</summary>
    public void Notify(Guid workspaceId, string? traceparent = null) => Schedule(workspaceId, pending =>
    {
        pending.All = true;
        if (traceparent is { Length: > 0 })
        {
            pending.Traceparent = traceparent;
        }
    });

    /// <summary>A connection reported health before its desired config was resolved: resolve it in the next batch.</summary>
    public void RequestResolve(AgentConnection connection) => Schedule(connection.WorkspaceId, pending => pending.Connections.Add(connection));

    /// <summary>The record of one connection's agent is reconciled with the config it runs (see <see cref="DesiredConfigBatch.MarkRunningDesiredAsync"/>).</summary>
    public async Task MarkRunningDesiredAsync(AgentConnection connection, CancellationToken cancellationToken)
    {
        if (connection.DesiredConfigId is not { } configId)
        {
            return;
        }
        await using var scope = scopes.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<DesiredConfigBatch>()
            .MarkRunningDesiredAsync([(connection.AgentId, connection.Epoch, configId)], cancellationToken);
    }

    private void Schedule(Guid workspaceId, Action<Pending> add)
    {
        var pending = _pending.GetOrAdd(workspaceId, _ => new Pending());
        TimeSpan delay;
        lock (pending)
        {
            add(pending);
            if (pending.Scheduled)
            {
                return;
            }
            pending.Scheduled = true;
            delay = pending.LastStart is { } last ? options.Value.Debounce - time.GetElapsedTime(last) : TimeSpan.Zero;
        }
        _ = RunAsync(workspaceId, pending, delay);
    }

    private async Task RunAsync(Guid workspaceId, Pending pending, TimeSpan delay)
    {
        var stopping = lifetime.ApplicationStopping;
        try
        {
            if (delay > TimeSpan.Zero)
            {
                await Task.Delay(delay, time, stopping);
            }
            else
            {
                // Off the caller's thread (a Redis message handler or a stream's read loop).
                await Task.Yield();
            }
            using (await gates.EnterAsync(workspaceId, stopping))
            {
                bool all;
                string? traceparent;
                List<AgentConnection> requested;
                lock (pending)
                {
                    (all, traceparent, requested) = (pending.All, pending.Traceparent, [.. pending.Connections]);
                    pending.All = false;
                    pending.Traceparent = null;
                    pending.Connections.Clear();
                    pending.Scheduled = false;
                    pending.LastStart = time.GetTimestamp();
                }
                using var activity = all ? HubTracing.Start("recompute workspace config", traceparent) : HubTracing.StartRoot("resolve desired config", ActivityKind.Internal);
                activity?.SetTag("nxmesh.workspace_id", workspaceId.ToString("D"));
                await RecomputeAsync(workspaceId, all, requested, Activity.Current?.Id ?? traceparent, stopping);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            lock (pending)
            {
                pending.Scheduled = false;
            }
            logger.LogError(ex, "Recomputing the desired config of workspace {WorkspaceId} failed; the periodic refresh will heal it.", workspaceId);
        }
    }

    private async Task RecomputeAsync(Guid workspaceId, bool all, List<AgentConnection> requested, string? traceparent, CancellationToken stopping)
    {
        // Evaluated with the Health trigger (a re-push may heal) when their health report asked for the resolve.
        var fromHealth = requested.Where(c => !c.Closed.IsCancellationRequested).ToHashSet();
        var connections = all ? registry.InWorkspace(workspaceId) : [.. fromHealth];
        if (connections.Count == 0)
        {
            return;
        }
        await using var scope = scopes.CreateAsyncScope();
        var batch = scope.ServiceProvider.GetRequiredService<DesiredConfigBatch>();
        var source = await scope.ServiceProvider.GetRequiredService<DesiredConfigBuilder>().LoadWorkspaceAsync(workspaceId, stopping);
        if (source is null)
        {
            foreach (var connection in connections)
            {
                connection.Close(DisconnectReasons.ConnectionClosed);
            }
            return;
        }
        var desired = await batch.ResolveAsync(source, [.. connections.Select(c => c.AgentId)], stopping);
        // Every update of this run is a fresh instance (never enqueued yet): it carries this run's trace.
        foreach (var update in desired.Values.Distinct())
        {
            update.Traceparent = traceparent ?? "";
        }
        var now = time.GetUtcNow();
        var reconcile = new List<(Guid, long, string)>();
        var pushed = 0;
        foreach (var connection in connections)
        {
            if (!desired.TryGetValue(connection.AgentId, out var update))
            {
                logger.LogInformation("Agent {AgentId} no longer exists; closing its stream.", connection.AgentId);
                connection.Close(DisconnectReasons.ConnectionClosed);
                continue;
            }
            try
            {
                await connection.PushLock.WaitAsync(connection.Closed);
            }
            catch (OperationCanceledException)
            {
                continue;
            }
            try
            {
                var sent = connection.LastPushAt;
                if (pusher.Evaluate(connection, update, fromHealth.Contains(connection) ? PushTrigger.Health : PushTrigger.Change, traceparent ?? "", now))
                {
                    reconcile.Add((connection.AgentId, connection.Epoch, update.ConfigId));
                }
                pushed += connection.LastPushAt != sent ? 1 : 0;
            }
            finally
            {
                connection.PushLock.Release();
            }
        }
        await batch.MarkRunningDesiredAsync(reconcile, stopping);
        if (pushed > 0)
        {
            logger.LogInformation("Workspace {WorkspaceId}: {Pushed} of {Agents} agents pushed ({Configs} distinct configs).",
                workspaceId, pushed, connections.Count, desired.Values.Select(u => u.ConfigId).Distinct().Count());
        }
    }

    /// <summary>What the next run of a workspace covers; mutated under its own lock.</summary>
    private sealed class Pending
    {
        public bool Scheduled { get; set; }
        /// <summary>When the last run took its snapshot (<see cref="TimeProvider.GetTimestamp"/>); null before the first.</summary>
        public long? LastStart { get; set; }
        public bool All { get; set; }
        public string? Traceparent { get; set; }
        public HashSet<AgentConnection> Connections { get; } = [];
    }
}

/// <summary>
/// Heals lost notifications: every <see cref="AgentHubOptions.DesiredRefreshSeconds"/> each workspace with agents
/// connected here is recomputed (one batch per workspace, not one resolve per health report).
/// </summary>
internal sealed class DesiredRefresh(ConnectionRegistry registry, WorkspaceRecompute recompute, IOptions<AgentHubOptions> options) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.DesiredRefresh);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                foreach (var workspaceId in registry.All().Select(c => c.WorkspaceId).Distinct())
                {
                    recompute.Notify(workspaceId);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
