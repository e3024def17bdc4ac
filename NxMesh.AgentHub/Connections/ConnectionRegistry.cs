using System.Collections.Immutable;

namespace NxMesh.AgentHub.Connections;

/// <summary>The live streams of this instance, one per agent, as an immutable map swapped atomically.</summary>
internal sealed class ConnectionRegistry
{
    private ImmutableDictionary<Guid, AgentConnection> _connections = ImmutableDictionary<Guid, AgentConnection>.Empty;

    public int Count => _connections.Count;

    /// <summary>Adds the connection and returns the one it replaces (the caller closes it).</summary>
    public AgentConnection? Register(AgentConnection connection)
    {
        AgentConnection? previous = null;
        ImmutableInterlocked.Update(ref _connections, map =>
        {
            previous = map.GetValueOrDefault(connection.AgentId);
            return map.SetItem(connection.AgentId, connection);
        });
        return previous;
    }

    /// <summary>Removes the connection only if it is still the registered one (a replacement stays).</summary>
    public void Remove(AgentConnection connection) =>
        ImmutableInterlocked.Update(ref _connections, map =>
            map.TryGetValue(connection.AgentId, out var current) && ReferenceEquals(current, connection)
                ? map.Remove(connection.AgentId)
                : map);

    public AgentConnection? Get(Guid agentId) => _connections.GetValueOrDefault(agentId);

    public List<AgentConnection> InWorkspace(Guid workspaceId) =>
        [.. _connections.Values.Where(c => c.WorkspaceId == workspaceId)];

    public List<AgentConnection> All() => [.. _connections.Values];
}
