using Microsoft.EntityFrameworkCore;
using NxMesh.Data;
using NxMesh.Data.DesiredConfig;
using NxMesh.Data.Entities;

namespace NxMesh.Worker.Certificates;

/// <summary>
/// The agents that answer a domain's HTTP-01 challenge: the connected (online or degraded) agents targeted by a
/// virtual host whose server_name covers the domain, else every connected agent of the workspace.
/// </summary>
internal static class ServingAgents
{
    public static async Task<List<Guid>> FindAsync(NxMeshDbContext db, Guid workspaceId, string domain, CancellationToken cancellationToken)
    {
        var agents = await db.Agents.AsNoTracking()
            .Where(a => a.WorkspaceId == workspaceId && a.State != AgentState.Offline)
            .Select(a => new { a.Id, a.Labels }).ToListAsync(cancellationToken);
        var vhosts = await db.VirtualHosts.AsNoTracking().IgnoreAutoIncludes()
            .Where(v => v.WorkspaceId == workspaceId).Select(v => new { v.ServerName, v.TargetAgents }).ToListAsync(cancellationToken);
        var covering = vhosts.Where(v => Covers(v.ServerName, domain)).ToList();
        var targeted = agents.Where(a => covering.Any(v => TargetMatcher.Matches(v.TargetAgents, a.Id, a.Labels))).Select(a => a.Id).ToList();
        return targeted.Count > 0 ? targeted : [.. agents.Select(a => a.Id)];
    }

    /// <summary>nginx server_name semantics for plain names: exact, <c>*.suffix</c> and <c>.suffix</c> (regex names are not matched).</summary>
    public static bool Covers(string serverName, string domain) =>
        serverName.Split(' ', StringSplitOptions.RemoveEmptyEntries).Any(name =>
            name.Equals(domain, StringComparison.OrdinalIgnoreCase)
            || (name.StartsWith("*.", StringComparison.Ordinal) && domain.EndsWith(name[1..], StringComparison.OrdinalIgnoreCase))
            || (name.StartsWith('.') && (domain.Equals(name[1..], StringComparison.OrdinalIgnoreCase) || domain.EndsWith(name, StringComparison.OrdinalIgnoreCase))));
}
