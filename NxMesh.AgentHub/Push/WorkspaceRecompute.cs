using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using NxMesh.AgentHub.Agents;
using NxMesh.AgentHub.Connections;
using NxMesh.Data.DesiredConfig;

namespace NxMesh.AgentHub.Push;

/// <summary>
/// Debounces and coalesces "workspace changed" notifications: the first one for a workspace starts a timer,
/// later ones within the window join it, then every agent of that workspace connected here is re-evaluated with
/// one shared load of the workspace. A notification during a run schedules one more run.
/// </summary>
internal sealed class WorkspaceRecompute(ConnectionRegistry registry, ConfigPusher pusher, IServiceScopeFactory scopes,
    IOptions<AgentHubOptions> options, IHostApplicationLifetime lifetime, ILogger<WorkspaceRecompute> logger)
{
    private readonly ConcurrentDictionary<Guid, byte> _scheduled = new();

    public void Notify(Guid workspaceId)
    {
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
            _scheduled.TryRemove(workspaceId, out _);
            var connections = registry.InWorkspace(workspaceId);
            if (connections.Count == 0)
            {
                return;
            }
            await using var scope = scopes.CreateAsyncScope();
            var service = scope.ServiceProvider.GetRequiredService<DesiredConfigService>();
            var source = await service.LoadWorkspaceAsync(workspaceId, stopping);
            foreach (var connection in connections)
            {
                await pusher.OnChangeAsync(connection, service, source, stopping);
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
}
