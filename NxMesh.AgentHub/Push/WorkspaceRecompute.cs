using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Options;
using NxMesh.AgentHub.Agents;
using NxMesh.AgentHub.Connections;
using NxMesh.Data.DesiredConfig;

namespace NxMesh.AgentHub.Push;

/// <summary>
/// Debounces and coalesces "workspace changed" notifications: the first one for a workspace starts a timer,
/// later ones within the window join it, then every agent of that workspace connected here is re-evaluated with
/// one shared load of the workspace. A notification during a run schedules one more run, which waits for the
/// running one (<see cref="WorkspaceGates"/>, shared with health-triggered resolves): a snapshot loaded earlier is
/// never pushed after a newer one. The run joins the trace of the newest change it covers (its outbox traceparent).
/// </summary>
internal sealed class WorkspaceRecompute(ConnectionRegistry registry, ConfigPusher pusher, WorkspaceGates gates, IServiceScopeFactory scopes,
    IOptions<AgentHubOptions> options, IHostApplicationLifetime lifetime, ILogger<WorkspaceRecompute> logger)
{
    private readonly ConcurrentDictionary<Guid, byte> _scheduled = new();
    private readonly ConcurrentDictionary<Guid, string> _traceparents = new();

    public void Notify(Guid workspaceId, string? traceparent = null)
    {
        if (traceparent is { Length: > 0 })
        {
            _traceparents[workspaceId] = traceparent;
        }
        if (_scheduled.TryAdd(workspaceId, 0))
        {
            _ = RunAsync(workspaceId);
        }
    }

    private async Task RunAsync(Guid workspaceId)
    {
        var stopping = lifetime.ApplicationStopping;
        try
        {
            await Task.Delay(options.Value.Debounce, stopping);
            using (await gates.EnterAsync(workspaceId, stopping))
            {
                _scheduled.TryRemove(workspaceId, out _);
                _traceparents.TryRemove(workspaceId, out var traceparent);
                using var activity = HubTracing.Start("recompute workspace config", traceparent);
                activity?.SetTag("nxmesh.workspace_id", workspaceId.ToString("D"));
                await RecomputeAsync(workspaceId, traceparent, stopping);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            _scheduled.TryRemove(workspaceId, out _);
            logger.LogError(ex, "Recomputing the desired config of workspace {WorkspaceId} failed; health reports will heal it.", workspaceId);
        }
    }

    private async Task RecomputeAsync(Guid workspaceId, string? traceparent, CancellationToken stopping)
    {
        var connections = registry.InWorkspace(workspaceId);
        if (connections.Count == 0)
        {
            return;
        }
        await using var scope = scopes.CreateAsyncScope();
        var service = scope.ServiceProvider.GetRequiredService<DesiredConfigService>();
        var source = await service.LoadWorkspaceAsync(workspaceId, stopping);
        // Pushes carry this run's span (a child of the change's trace), or the change's own traceparent untraced.
        var pushTrace = Activity.Current?.Id ?? traceparent;
        foreach (var connection in connections)
        {
            await pusher.OnChangeAsync(connection, service, source, pushTrace, stopping);
        }
    }
}
