using System.Collections.Concurrent;

namespace NxMesh.AgentHub.Push;

/// <summary>
/// One gate per workspace around "load the desired config from the database, then push it": held by a recompute
/// run for all its agents and by a health report that resolves its agent's config, so a snapshot loaded earlier is
/// never pushed after a newer one. Lock order: this gate, then the connection's PushLock.
/// </summary>
internal sealed class WorkspaceGates
{
    private readonly ConcurrentDictionary<Guid, SemaphoreSlim> _gates = new();

    public async Task<IDisposable> EnterAsync(Guid workspaceId, CancellationToken cancellationToken)
    {
        var gate = _gates.GetOrAdd(workspaceId, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken);
        return new Releaser(gate);
    }

    private sealed class Releaser(SemaphoreSlim gate) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                gate.Release();
            }
        }
    }
}
