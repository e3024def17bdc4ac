using Microsoft.Extensions.Options;

namespace NxMesh.AgentHub.Agents;

/// <summary>
/// Bounds the database work of stream set-up (authenticate, enroll, connect) to
/// <see cref="AgentHubOptions.ConnectConcurrency"/> at a time. A reconnect storm of thousands of agents then queues
/// here, in memory, instead of checking out every pooled DbContext and Npgsql connection at once (which exhausted
/// the pool and timed out at 5,000 agents); each unit of work gets its own short-lived scope, so a live stream
/// holds no DbContext.
/// </summary>
internal sealed class ConnectGate(IServiceScopeFactory scopes, IOptions<AgentHubOptions> options)
{
    private readonly SemaphoreSlim _slots = new(Math.Max(1, options.Value.ConnectConcurrency));

    public async Task<T> RunAsync<T>(Func<IServiceProvider, Task<T>> work, CancellationToken cancellationToken)
    {
        await _slots.WaitAsync(cancellationToken);
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            return await work(scope.ServiceProvider);
        }
        finally
        {
            _slots.Release();
        }
    }
}
