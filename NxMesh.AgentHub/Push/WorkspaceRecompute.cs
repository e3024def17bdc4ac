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
    public void Notify(Guid workspaceId, string? traceparent = null, NotificationAge? age = null) => Schedule(workspaceId, pending =>
    {
        pending.All = true;
        if (traceparent is { Length: > 0 })
        {
            pending.Traceparent = traceparent;
        }
    }, age);

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

    private void Schedule(Guid workspaceId, Action<Pending> add, NotificationAge? age = null)
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
            pending.RequestedAt = time.GetTimestamp();
            pending.Age = age;
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
                long requestedAt;
                NotificationAge? age;
                lock (pending)
                {
                    (all, traceparent, requested, requestedAt, age) = (pending.All, pending.Traceparent, [.. pending.Connections], pending.RequestedAt, pending.Age);
                    pending.All = false;
                    pending.Traceparent = null;
                    pending.Connections.Clear();
                    pending.Scheduled = false;
                    pending.LastStart = time.GetTimestamp();
                }
                using var activity = all ? HubTracing.Start("recompute workspace config", traceparent) : HubTracing.StartRoot("resolve desired config", ActivityKind.Internal);
                activity?.SetTag("nxmesh.workspace_id", workspaceId.ToString("D"));
                if (activity is not null && age is { } arrived)
                {
                    activity.SetTag("nxmesh.notification.age_ms", arrived.SincePublishMs);
                    activity.SetTag("nxmesh.notification.create_to_publish_ms", arrived.CreateToPublishMs);
                }
                await RecomputeAsync(workspaceId, all, requested, Activity.Current?.Id ?? traceparent, requestedAt, age, stopping);
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

    private async Task RecomputeAsync(Guid workspaceId, bool all, List<AgentConnection> requested, string? traceparent, long requestedAt,
        NotificationAge? age, CancellationToken stopping)
    {
        var trace = new RunTrace(time, requestedAt, age);
        // Evaluated with the Health trigger (a re-push may heal) when their health report asked for the resolve.
        var fromHealth = requested.Where(c => !c.Closed.IsCancellationRequested).ToHashSet();
        var connections = all ? registry.InWorkspace(workspaceId) : [.. fromHealth];
        if (connections.Count == 0)
        {
            return;
        }
        // The workspace's config source and the agents' rows are independent: read both at once, on two connections.
        await using var loadScope = scopes.CreateAsyncScope();
        await using var scope = scopes.CreateAsyncScope();
        var batch = scope.ServiceProvider.GetRequiredService<DesiredConfigBatch>();
        var load = loadScope.ServiceProvider.GetRequiredService<DesiredConfigBuilder>().LoadWorkspaceAsync(workspaceId, stopping);
        var read = batch.ReadAsync(workspaceId, [.. connections.Select(c => c.AgentId)], stopping);
        await Task.WhenAll(load, read);
        var source = await load;
        trace.Mark("read");
        if (source is null)
        {
            foreach (var connection in connections)
            {
                connection.Close(DisconnectReasons.ConnectionClosed);
            }
            return;
        }
        var plan = batch.Plan(source, await read);
        trace.Mark("built");
        // Every update of this run is a fresh instance (never enqueued yet): it carries this run's trace.
        foreach (var update in plan.Desired.Values.Distinct())
        {
            update.Traceparent = traceparent ?? "";
        }
        // Pushed before the desired ids are written: the writers send while the UPDATE runs. The status path does
        // not depend on the order (a SUCCESS records applied_config_id whatever desired_config_id says, and the
        // push decisions are in memory); a row that changed meanwhile is resolved again below and corrected.
        var now = time.GetUtcNow();
        var reconcile = new List<(Guid, long, string)>();
        var pushed = 0;
        // The writers time this run's pushes (enqueue → written), summarized once the last is written.
        var runContext = Activity.Current?.Context;
        var round = new WriteRound(Stopwatch.GetTimestamp() - (long)(time.GetElapsedTime(requestedAt).TotalSeconds * Stopwatch.Frequency),
            connections.Count, summary => ReportWrites(workspaceId, summary, runContext));
        foreach (var connection in connections)
        {
            if (!plan.Desired.TryGetValue(connection.AgentId, out var update))
            {
                logger.LogInformation("Agent {AgentId} no longer exists; closing its stream.", connection.AgentId);
                connection.Close(DisconnectReasons.ConnectionClosed);
                continue;
            }
            pushed += await EvaluateAsync(connection, update, fromHealth.Contains(connection), traceparent, now, reconcile, round) ? 1 : 0;
        }
        trace.Mark("enqueued");
        round.Seal(pushed);
        var missed = await batch.CommitAsync(plan, stopping);
        trace.Mark("committed");
        if (missed.Count > 0)
        {
            // Another writer changed these rows between the read and the UPDATE: what they were sent may carry a
            // version (or content) that is not theirs. Resolve them again and send the committed update.
            var resolved = await batch.ResolveAsync(source, missed, stopping);
            var byId = connections.ToDictionary(c => c.AgentId);
            foreach (var id in missed)
            {
                var connection = byId[id];
                if (!resolved.TryGetValue(id, out var update))
                {
                    connection.Close(DisconnectReasons.ConnectionClosed);
                    continue;
                }
                update.Traceparent = traceparent ?? "";
                if (plan.Desired[id] is var planned && (planned.ConfigId != update.ConfigId || planned.Version != update.Version))
                {
                    await ForgetSentAsync(connection, planned.ConfigId);
                }
                pushed += await EvaluateAsync(connection, update, fromHealth.Contains(connection), traceparent, now, reconcile) ? 1 : 0;
            }
            logger.LogInformation("Workspace {WorkspaceId}: {Missed} agents' desired config changed concurrently; resolved again.", workspaceId, missed.Count);
        }
        await batch.MarkRunningDesiredAsync(reconcile, stopping);
        if (pushed > 0)
        {
            logger.LogInformation("Workspace {WorkspaceId}: {Pushed} of {Agents} agents pushed ({Configs} distinct configs); ms since requested: {Trace}.",
                workspaceId, pushed, connections.Count, plan.Desired.Values.Select(u => u.ConfigId).Distinct().Count(), trace);
        }
    }

    /// <summary>The writers sent a run's pushes: one log line, and a span in the run's trace carrying the figures.</summary>
    private void ReportWrites(Guid workspaceId, WriteSummary summary, ActivityContext? runContext)
    {
        logger.LogInformation("Workspace {WorkspaceId}: pushes {Writes}.", workspaceId, summary);
        using var activity = runContext is { } parent
            ? HubTracing.Source.StartActivity("config push writes", ActivityKind.Internal, parent)
            : HubTracing.StartRoot("config push writes", ActivityKind.Internal);
        if (activity is null)
        {
            return;
        }
        activity.SetTag("nxmesh.workspace_id", workspaceId.ToString("D"));
        activity.SetTag("nxmesh.writes.written", summary.Written);
        activity.SetTag("nxmesh.writes.enqueued", summary.Enqueued);
        activity.SetTag("nxmesh.writes.dequeued_p50_ms", summary.Wake.P50);
        activity.SetTag("nxmesh.writes.dequeued_p99_ms", summary.Wake.P99);
        activity.SetTag("nxmesh.writes.written_p50_ms", summary.EnqueueToWritten.P50);
        activity.SetTag("nxmesh.writes.written_p99_ms", summary.EnqueueToWritten.P99);
        activity.SetTag("nxmesh.writes.written_max_ms", summary.EnqueueToWritten.Max);
        activity.SetTag("nxmesh.writes.first_ms", summary.FirstWrittenMs);
        activity.SetTag("nxmesh.writes.last_ms", summary.LastWrittenMs);
    }

    /// <summary>Evaluates one connection under its PushLock; true when it enqueued a push.</summary>
    private async Task<bool> EvaluateAsync(AgentConnection connection, Protocol.V1.ConfigUpdate update, bool fromHealth, string? traceparent,
        DateTimeOffset now, List<(Guid, long, string)> reconcile, WriteRound? round = null)
    {
        try
        {
            await connection.PushLock.WaitAsync(connection.Closed);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        try
        {
            var sent = connection.LastPushAt;
            if (pusher.Evaluate(connection, update, fromHealth ? PushTrigger.Health : PushTrigger.Change, traceparent ?? "", now, round))
            {
                reconcile.Add((connection.AgentId, connection.Epoch, update.ConfigId));
            }
            return connection.LastPushAt != sent;
        }
        finally
        {
            connection.PushLock.Release();
        }
    }

    /// <summary>The planned update sent to this connection was not the committed one: the committed one counts as new content.</summary>
    private static async Task ForgetSentAsync(AgentConnection connection, string plannedConfigId)
    {
        try
        {
            await connection.PushLock.WaitAsync(connection.Closed);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        try
        {
            if (connection.LastSentConfigId == plannedConfigId)
            {
                connection.LastSentConfigId = null;
                connection.InFlightConfigId = null;
            }
        }
        finally
        {
            connection.PushLock.Release();
        }
    }

    /// <summary>Milliseconds from the first request a run covers to each of its stages (the log line and span events).</summary>
    private sealed class RunTrace(TimeProvider time, long requestedAt, NotificationAge? age)
    {
        private readonly List<(string Stage, double Ms)> _marks = [("started", Math.Round(time.GetElapsedTime(requestedAt).TotalMilliseconds, 1))];

        public void Mark(string stage)
        {
            _marks.Add((stage, Math.Round(time.GetElapsedTime(requestedAt).TotalMilliseconds, 1)));
            Activity.Current?.AddEvent(new ActivityEvent(stage));
        }

        public override string ToString() => string.Join(", ", _marks.Select(m => $"{m.Stage} {m.Ms}"))
            + (age is { } a ? $"; the notification arrived {a}" : "");
    }

    /// <summary>What the next run of a workspace covers; mutated under its own lock.</summary>
    private sealed class Pending
    {
        public bool Scheduled { get; set; }
        /// <summary>When the last run took its snapshot (<see cref="TimeProvider.GetTimestamp"/>); null before the first.</summary>
        public long? LastStart { get; set; }
        /// <summary>When the first request the next run covers arrived (<see cref="TimeProvider.GetTimestamp"/>).</summary>
        public long RequestedAt { get; set; }
        /// <summary>How old that first request's notification was on arrival (relayed changes only).</summary>
        public NotificationAge? Age { get; set; }
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
