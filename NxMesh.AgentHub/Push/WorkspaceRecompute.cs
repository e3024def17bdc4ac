using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using NxMesh.AgentHub.Agents;
using NxMesh.AgentHub.Connections;
using NxMesh.Data.DesiredConfig;

namespace NxMesh.AgentHub.Push;

/// <summary>
/// Debounces and coalesces "workspace changed" notifications: the first one for a workspace starts a timer,
/// later ones within the window join it, then every agent of that workspace connected here is re-evaluated with
/// one shared load of the workspace. A notification during a run schedules one more run, which waits for the
/// running one: runs of one workspace never overlap, so a snapshot loaded earlier is never pushed after a newer one.
/// </summary>
internal sealed class WorkspaceRecompute(ConnectionRegistry registry, ConfigPusher pusher, IServiceScopeFactory scopes,
    IOptions<AgentHubOptions> options, IHostApplicationLifetime lifetime, ILogger<WorkspaceRecompute> logger)
{
    private readonly ConcurrentDictionary<Guid, byte> _scheduled = new();
    private readonly ConcurrentDictionary<Guid, SemaphoreSlim> _running = new();

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
            var gate = _running.GetOrAdd(workspaceId, _ => new SemaphoreSlim(1, 1));
            await gate.WaitAsync(stopping);
            try
            {
                _scheduled.TryRemove(workspaceId, out _);
                await RecomputeAsync(workspaceId, stopping);
            }
            finally
            {
                gate.Release();
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

    private async Task RecomputeAsync(Guid workspaceId, CancellationToken stopping)
    {
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
}
