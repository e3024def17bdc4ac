using System.Text.Json;
using System.Threading.Channels;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using NxMesh.Data;
using Proto = NxMesh.Protocol.V1;

namespace NxMesh.AgentHub.Agents;

/// <summary>
/// Accepts connections in batches (a reconnect storm of thousands of agents is thousands of row updates): for
/// every agent whose registration arrived within
/// <see cref="AgentHubOptions.BatchWindowMilliseconds"/>, in one statement — bump <c>connection_epoch</c>, mark
/// online, record hostname, ip (reported, else the peer address), version, capabilities, deployment mode, labels
/// (reported &lt; stored &lt; the token's at enrollment: jsonb <c>||</c>, the right operand wins), and touch the
/// agent's live credentials. An agent that appears twice waits for the next batch, so every connection gets its own
/// epoch. Each caller awaits its own outcome (null: the agent no longer exists).
/// </summary>
internal sealed class ConnectWriter(IServiceScopeFactory scopes, IOptions<AgentHubOptions> options, TimeProvider time, ILogger<ConnectWriter> logger)
    : BackgroundService
{
    private readonly Channel<PendingConnect> _queue = Channel.CreateUnbounded<PendingConnect>(new UnboundedChannelOptions { SingleReader = true });

    public async Task<ConnectedAgent?> ConnectAsync(Guid agentId, Proto.RegistrationRequest registration, string? peerAddress,
        IReadOnlyDictionary<string, string>? tokenLabels, CancellationToken cancellationToken)
    {
        var pending = new PendingConnect(agentId, registration, peerAddress, tokenLabels);
        if (!_queue.Writer.TryWrite(pending))
        {
            throw new OperationCanceledException("AgentHub is stopping.");
        }
        return await pending.Done.Task.WaitAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = TimeSpan.FromMilliseconds(Math.Max(1, options.Value.BatchWindowMilliseconds));
        var deferred = new List<PendingConnect>();
        try
        {
            while (deferred.Count > 0 || await _queue.Reader.WaitToReadAsync(stoppingToken))
            {
                await Task.Delay(interval, stoppingToken);
                var batch = new List<PendingConnect>();
                var agents = new HashSet<Guid>();
                var next = new List<PendingConnect>();
                foreach (var item in deferred)
                {
                    (agents.Add(item.AgentId) ? batch : next).Add(item);
                }
                while (batch.Count < options.Value.HealthBatchSize && _queue.Reader.TryRead(out var item))
                {
                    (agents.Add(item.AgentId) ? batch : next).Add(item);
                }
                deferred = next;
                try
                {
                    var connected = await WriteAsync(batch);
                    foreach (var item in batch)
                    {
                        item.Done.TrySetResult(connected.GetValueOrDefault(item.AgentId));
                    }
                }
                catch (Exception ex)
                {
                    logger.LogWarning(ex, "Accepting {Count} connections failed.", batch.Count);
                    foreach (var item in batch)
                    {
                        item.Done.TrySetException(ex);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        _queue.Writer.TryComplete();
        foreach (var item in deferred)
        {
            item.Done.TrySetCanceled(CancellationToken.None);
        }
        while (_queue.Reader.TryRead(out var left))
        {
            left.Done.TrySetCanceled(CancellationToken.None);
        }
    }

    private async Task<Dictionary<Guid, ConnectedAgent>> WriteAsync(List<PendingConnect> batch)
    {
        var n = batch.Count;
        var id = new Guid[n];
        var hostname = new string?[n];
        var ip = new string?[n];
        var version = new string?[n];
        var capabilities = new string[n];
        var reported = new string[n];
        var token = new string[n];
        var mode = new string?[n];
        for (var i = 0; i < n; i++)
        {
            var item = batch[i];
            var r = item.Registration;
            id[i] = item.AgentId;
            hostname[i] = NullIfEmpty(r.Hostname);
            ip[i] = NullIfEmpty(r.IpAddress) ?? item.PeerAddress;
            version[i] = NullIfEmpty(r.Version);
            // Label and capability names never contain a newline (Kubernetes syntax / nginx -V tokens).
            capabilities[i] = string.Join('\n', r.Capabilities.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal));
            reported[i] = JsonSerializer.Serialize(r.Labels.ToDictionary(p => p.Key, p => p.Value));
            token[i] = JsonSerializer.Serialize(item.TokenLabels ?? new Dictionary<string, string>());
            mode[i] = r.DeploymentMode switch
            {
                Proto.DeploymentMode.DockerSidecar => "docker_sidecar",
                Proto.DeploymentMode.KubernetesSidecar => "kubernetes_sidecar",
                Proto.DeploymentMode.Standalone => "standalone",
                _ => null,
            };
        }
        var now = time.GetUtcNow();
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<NxMeshDbContext>();
        var rows = await db.Database.SqlQuery<ConnectedAgent>($"""
            WITH x AS (
                SELECT * FROM unnest({id}::uuid[], {hostname}::text[], {ip}::text[], {version}::text[], {capabilities}::text[],
                    {reported}::text[], {token}::text[], {mode}::text[])
                AS t(id, hostname, ip, version, capabilities, reported, token, mode)
            ), updated AS (
                UPDATE agents a SET hostname = COALESCE(x.hostname, a.hostname), ip_address = COALESCE(x.ip, a.ip_address),
                    version = COALESCE(x.version, a.version),
                    capabilities = CASE WHEN x.capabilities = '' THEN ARRAY[]::text[] ELSE string_to_array(x.capabilities, E'\n') END,
                    labels = x.reported::jsonb || a.labels || x.token::jsonb,
                    deployment_mode = COALESCE(x.mode, a.deployment_mode),
                    state = 'online', last_seen_at = {now}, enrolled_at = COALESCE(a.enrolled_at, {now}),
                    connection_epoch = a.connection_epoch + 1, updated_at = {now}
                FROM x WHERE a.id = x.id
                RETURNING a.id, a.workspace_id, a.connection_epoch, a.hostname, a.ip_address
            ), credentials AS (
                UPDATE agent_credentials c SET last_used_at = {now}
                WHERE c.agent_id IN (SELECT id FROM updated) AND c.revoked_at IS NULL
            )
            SELECT id AS "AgentId", workspace_id AS "WorkspaceId", connection_epoch AS "Epoch", hostname AS "Hostname", ip_address AS "IpAddress"
            FROM updated
            """).ToListAsync(CancellationToken.None);
        return rows.ToDictionary(r => r.AgentId);
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    private sealed class PendingConnect(Guid agentId, Proto.RegistrationRequest registration, string? peerAddress,
        IReadOnlyDictionary<string, string>? tokenLabels)
    {
        public Guid AgentId { get; } = agentId;
        public Proto.RegistrationRequest Registration { get; } = registration;
        public string? PeerAddress { get; } = peerAddress;
        public IReadOnlyDictionary<string, string>? TokenLabels { get; } = tokenLabels;
        public TaskCompletionSource<ConnectedAgent?> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
