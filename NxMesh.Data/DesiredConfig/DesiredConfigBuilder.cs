using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;
using NxMesh.Data.Entities;
using Proto = NxMesh.Protocol.V1;

namespace NxMesh.Data.DesiredConfig;

/// <summary>Everything of one workspace that desired configs are built from, loaded once per recompute.</summary>
public sealed class WorkspaceConfigSource
{
    internal WorkspaceConfigSource(Guid workspaceId, WorkspaceSettings settings, List<VirtualHost> virtualHosts,
        Dictionary<Guid, Upstream> upstreams, Dictionary<Guid, Certificate> certificates, List<AcmeHttpChallenge> challenges)
    {
        Challenges = challenges;
        WorkspaceId = workspaceId;
        Settings = settings;
        VirtualHosts = virtualHosts;
        Upstreams = upstreams;
        Certificates = certificates;
    }

    public Guid WorkspaceId { get; }
    internal WorkspaceSettings Settings { get; }
    internal List<VirtualHost> VirtualHosts { get; }
    internal Dictionary<Guid, Upstream> Upstreams { get; }
    internal Dictionary<Guid, Certificate> Certificates { get; }
    internal List<AcmeHttpChallenge> Challenges { get; }
    /// <summary>Private keys decrypted at most once per source, kept only in memory.</summary>
    internal Dictionary<Guid, string?> DecryptedKeys { get; } = [];
}

/// <summary>
/// Builds an agent's desired <see cref="Proto.ConfigUpdate"/>: the workspace's virtual hosts whose target_agents
/// select the agent (ordered by id, locations by position), the upstreams and certificates they reference
/// (ordered by id; private keys decrypted here, at push time), and the workspace's global settings.
/// <c>config_id</c> is the <see cref="ConfigChecksum"/>; <c>version</c> is left 0 for <see cref="DesiredConfigService"/>.
/// </summary>
public sealed class DesiredConfigBuilder(NxMeshDbContext db, IDataProtectionProvider dataProtection)
{
    public const string RedactedKey = "[redacted]";

    public async Task<WorkspaceConfigSource?> LoadWorkspaceAsync(Guid workspaceId, CancellationToken cancellationToken)
    {
        var workspace = await db.Workspaces.AsNoTracking()
            .Where(w => w.Id == workspaceId).Select(w => new { w.Settings }).FirstOrDefaultAsync(cancellationToken);
        if (workspace is null)
        {
            return null;
        }
        var virtualHosts = await db.VirtualHosts.AsNoTracking().Where(v => v.WorkspaceId == workspaceId).ToListAsync(cancellationToken);
        var upstreamIds = virtualHosts.SelectMany(v => v.Locations).Where(l => l.UpstreamId is not null).Select(l => l.UpstreamId!.Value).Distinct().ToList();
        var certificateIds = virtualHosts.Where(v => v.SslCertificateId is not null).Select(v => v.SslCertificateId!.Value).Distinct().ToList();
        var upstreams = await db.Upstreams.AsNoTracking()
            .Where(u => u.WorkspaceId == workspaceId && upstreamIds.Contains(u.Id)).ToDictionaryAsync(u => u.Id, cancellationToken);
        var certificates = await db.Certificates.AsNoTracking()
            .Where(c => c.WorkspaceId == workspaceId && certificateIds.Contains(c.Id)).ToDictionaryAsync(c => c.Id, cancellationToken);
        var challenges = await db.AcmeHttpChallenges.AsNoTracking().Where(c => c.WorkspaceId == workspaceId).ToListAsync(cancellationToken);
        return new WorkspaceConfigSource(workspaceId, workspace.Settings, virtualHosts, upstreams, certificates, challenges);
    }

    public Proto.ConfigUpdate Build(WorkspaceConfigSource source, Guid agentId, IReadOnlyDictionary<string, string> labels)
    {
        var update = new Proto.ConfigUpdate { GlobalSettings = new Proto.GlobalSettings() };
        AddSorted(update.GlobalSettings.NginxDirectives, source.Settings.NginxDirectives);
        AddSorted(update.GlobalSettings.EnvVars, source.Settings.EnvVars);

        var selected = source.VirtualHosts
            .Where(v => TargetMatcher.Matches(v.TargetAgents, agentId, labels))
            // A TLS virtual host waits for its certificate: left out, so it never blocks the rest of the config.
            .Where(v => !WaitsForCertificate(v, v.SslCertificateId is { } id ? source.Certificates.GetValueOrDefault(id) : null))
            .OrderBy(v => v.Id)
            .ToList();
        var upstreamIds = new SortedSet<Guid>();
        var certificateIds = new SortedSet<Guid>();
        foreach (var vhost in selected)
        {
            update.VirtualHosts.Add(ToProto(vhost));
            foreach (var location in vhost.Locations)
            {
                if (location.UpstreamId is { } upstreamId && source.Upstreams.ContainsKey(upstreamId))
                {
                    upstreamIds.Add(upstreamId);
                }
            }
            if (vhost.SslCertificateId is { } certificateId && source.Certificates.ContainsKey(certificateId))
            {
                certificateIds.Add(certificateId);
            }
        }
        foreach (var id in upstreamIds)
        {
            update.Upstreams.Add(ToProto(source.Upstreams[id]));
        }
        foreach (var id in certificateIds)
        {
            var certificate = source.Certificates[id];
            // A certificate not issued yet is left out: the agent reports the virtual host it cannot serve.
            if (certificate.CertificatePem is null || PrivateKey(source, certificate) is not { } key)
            {
                continue;
            }
            update.Certificates.Add(Id(id), new Proto.Certificate
            {
                Id = Id(id),
                Domain = certificate.Domain,
                CertificatePem = certificate.CertificatePem,
                PrivateKeyPem = key,
                ExpiresAt = certificate.ExpiresAt?.ToUnixTimeMilliseconds() ?? 0,
            });
        }
        foreach (var challenge in source.Challenges.Where(c => c.AgentIds.Contains(agentId)).OrderBy(c => c.Token, StringComparer.Ordinal))
        {
            update.AcmeChallenges.Add(new Proto.AcmeChallenge { Token = challenge.Token, KeyAuthorization = challenge.KeyAuthorization });
        }
        update.ConfigId = ConfigChecksum.Compute(update);
        return update;
    }

    /// <summary>
    /// What makes <see cref="Build"/> depend on the agent's id rather than its labels: the virtual hosts that target
    /// it by id and the ACME challenges it answers. Agents with equal labels and equal keys get the same config, so
    /// a fleet-wide recompute builds (and hashes) once per distinct (labels, key) instead of once per agent.
    /// </summary>
    public static string AgentSpecificKey(WorkspaceConfigSource source, Guid agentId)
    {
        var key = new System.Text.StringBuilder();
        foreach (var vhost in source.VirtualHosts)
        {
            if (vhost.TargetAgents.Type == TargetAgentsType.Agents && vhost.TargetAgents.AgentIds.Contains(agentId))
            {
                key.Append(vhost.Id.ToString("N")).Append(',');
            }
        }
        key.Append('|');
        foreach (var challenge in source.Challenges)
        {
            if (challenge.AgentIds.Contains(agentId))
            {
                key.Append(challenge.Token).Append(',');
            }
        }
        return key.ToString();
    }

    /// <summary>
    /// True when a TLS virtual host cannot be served yet: its certificate has no issued PEM and key (pending, or failed
    /// before a first issuance) or has expired. A failed renewal keeps the previous certificate, so it is still served.
    /// </summary>
    public static bool WaitsForCertificate(VirtualHost vhost, Certificate? certificate) =>
        vhost.SslEnabled && (certificate is null || certificate.CertificatePem is null || certificate.PrivateKeyProtected is null
            || certificate.Status == CertificateStatus.Expired);

    /// <summary>A copy safe to show (GET /agents/{id}/config): private keys replaced, config_id kept.</summary>
    public static Proto.ConfigUpdate Redact(Proto.ConfigUpdate update)
    {
        var copy = update.Clone();
        foreach (var certificate in copy.Certificates.Values)
        {
            if (certificate.PrivateKeyPem.Length > 0)
            {
                certificate.PrivateKeyPem = RedactedKey;
            }
        }
        return copy;
    }

    private string? PrivateKey(WorkspaceConfigSource source, Certificate certificate)
    {
        if (!source.DecryptedKeys.TryGetValue(certificate.Id, out var key))
        {
            key = certificate.PrivateKeyProtected is { } protectedKey
                ? CertificateKeyProtection.Unprotect(dataProtection, protectedKey)
                : null;
            source.DecryptedKeys[certificate.Id] = key;
        }
        return key;
    }

    private static Proto.VirtualHost ToProto(VirtualHost vhost)
    {
        var result = new Proto.VirtualHost
        {
            Id = Id(vhost.Id),
            Name = vhost.Name,
            ServerName = vhost.ServerName,
            ListenPort = (uint)vhost.ListenPort,
            SslEnabled = vhost.SslEnabled,
            SslCertificateId = vhost.SslCertificateId is { } certificateId ? Id(certificateId) : "",
            Http2Enabled = vhost.Http2Enabled,
            Http3Enabled = vhost.Http3Enabled,
        };
        AddSorted(result.CustomDirectives, vhost.CustomDirectives);
        foreach (var location in vhost.Locations.OrderBy(l => l.Position))
        {
            var proto = new Proto.Location
            {
                Path = location.Path,
                ProxyPass = location.ProxyPass ?? "",
                UpstreamId = location.UpstreamId is { } upstreamId ? Id(upstreamId) : "",
                Root = location.Root ?? "",
                Index = location.Index ?? "",
            };
            proto.CustomHeaders.AddRange(location.CustomHeaders.Select(h => new Proto.Header { Name = h.Name, Value = h.Value, Always = h.Always }));
            proto.RewriteRules.AddRange(location.RewriteRules.Select(r => new Proto.RewriteRule { Pattern = r.Pattern, Replacement = r.Replacement, Flag = r.Flag ?? "" }));
            AddSorted(proto.CustomDirectives, location.CustomDirectives);
            result.Locations.Add(proto);
        }
        return result;
    }

    private static Proto.Upstream ToProto(Upstream upstream)
    {
        var result = new Proto.Upstream
        {
            Id = Id(upstream.Id),
            Name = upstream.Name,
            Algorithm = upstream.Algorithm switch
            {
                LoadBalanceAlgorithm.RoundRobin => Proto.LoadBalanceAlgorithm.RoundRobin,
                LoadBalanceAlgorithm.LeastConnections => Proto.LoadBalanceAlgorithm.LeastConnections,
                LoadBalanceAlgorithm.IpHash => Proto.LoadBalanceAlgorithm.IpHash,
                LoadBalanceAlgorithm.WeightedRoundRobin => Proto.LoadBalanceAlgorithm.WeightedRoundRobin,
                _ => Proto.LoadBalanceAlgorithm.Unspecified,
            },
            KeepaliveConnections = (uint)upstream.KeepaliveConnections,
        };
        result.Servers.AddRange(upstream.Servers.Select(s => new Proto.UpstreamServer
        {
            Address = s.Address,
            Weight = (uint)s.Weight,
            Backup = s.Backup,
            Down = s.Down,
            MaxFails = (uint)s.MaxFails,
            FailTimeoutSeconds = (uint)s.FailTimeout,
        }));
        if (upstream.HealthCheck is { } check)
        {
            result.HealthCheck = new Proto.HealthCheckConfig
            {
                Enabled = check.Enabled,
                Path = check.Path,
                IntervalSeconds = (uint)check.Interval,
                TimeoutSeconds = (uint)check.Timeout,
                HealthyThreshold = (uint)check.HealthyThreshold,
                UnhealthyThreshold = (uint)check.UnhealthyThreshold,
            };
        }
        return result;
    }

    private static void AddSorted(Google.Protobuf.Collections.MapField<string, string> target, Dictionary<string, string> source)
    {
        foreach (var (key, value) in source.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            target[key] = value;
        }
    }

    private static string Id(Guid id) => id.ToString("D");
}
