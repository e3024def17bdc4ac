using System.Collections.Concurrent;

namespace NxMesh.Api.Agents;

/// <summary>
/// The agents list's <c>meta.total</c> per (workspace, label selector), valid for one agent-set generation
/// (<see cref="NxMesh.Data.Labels.AgentSetGenerations"/>). The list statement reads the workspace's current generation
/// and counts only when it differs from the cached one, so the total stays exact: any insert, delete or label change
/// bumps the generation in its own transaction. Counting 1,000 matching rows was ≈ 1 ms of Postgres CPU per request
/// at 10,000 agents (issue 9). Lists filtered by state are not cached (state changes do not bump the generation).
/// </summary>
internal sealed class AgentCountCache
{
    /// <summary>Bounded: past this many (workspace, selector) pairs the cache starts over.</summary>
    private const int MaxEntries = 10_000;

    private readonly ConcurrentDictionary<(Guid Workspace, string Selector), Entry> _totals = new();
    private long _hits;
    private long _walks;

    /// <summary>Lists answered without counting (tests read it).</summary>
    public long Hits => Interlocked.Read(ref _hits);

    /// <summary>Lists answered by the name-order walk on a generic plan (tests read it).</summary>
    public long Walks => Interlocked.Read(ref _walks);

    public bool TryGet(Guid workspaceId, string selector, out Entry entry) =>
        _totals.TryGetValue((workspaceId, selector), out entry);

    public void Hit() => Interlocked.Increment(ref _hits);

    public void Walked() => Interlocked.Increment(ref _walks);

    public void Set(Guid workspaceId, string selector, Entry entry)
    {
        if (_totals.Count >= MaxEntries)
        {
            _totals.Clear();
        }
        _totals[(workspaceId, selector)] = entry;
    }

    /// <summary>The total at one generation, and the workspace's agent count then (how far a name-order walk reads).</summary>
    public readonly record struct Entry(long Generation, int Total, int WorkspaceAgents);
}
