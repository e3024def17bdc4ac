using System.Diagnostics;
using System.Text.Json.Nodes;
using Grpc.Core;
using Microsoft.Extensions.Options;
using NxMesh.AgentHub.Alerts;
using NxMesh.AgentHub.Commands;
using NxMesh.AgentHub.Connections;
using NxMesh.AgentHub.Push;
using NxMesh.AgentHub.Telemetry;
using NxMesh.Data;
using NxMesh.Data.Configurations;
using NxMesh.Data.Messaging;
using NxMesh.Protocol.V1;

namespace NxMesh.AgentHub.Agents;

/// <summary>nxmesh.agent.v1.AgentService: enrollment, the live stream, and the unary reports.</summary>
internal sealed class AgentStreamService(
    ConnectGate gate,
    ConnectWriter connector,
    IServiceScopeFactory scopes,
    ConnectionRegistry registry,
    ConfigPusher pusher,
    WorkspaceRecompute recompute,
    HealthWriter healthWriter,
    StatusWriter statusWriter,
    CommandRelay commands,
    TelemetryIngest telemetry,
    HubMessaging messaging,
    FleetEventPublisher events,
    HealthAlerts alerts,
    IOptions<AgentHubOptions> options,
    IHostApplicationLifetime lifetime,
    TimeProvider time,
    ILogger<AgentStreamService> logger) : AgentService.AgentServiceBase
{
    private readonly AgentHubOptions _options = options.Value;

    public override async Task Stream(IAsyncStreamReader<AgentMessage> requestStream, IServerStreamWriter<MasterMessage> responseStream, ServerCallContext context)
    {
        // The call lives as long as the agent stays connected: nothing done on it runs under its request Activity
        // (not traced: ServiceDefaults' filter). Otherwise the Redis instrumentation keeps a profiling session per
        // stream keyed by that Activity until the call ends (10,000 at 10,000 agents, seen in a gcdump); the hub's
        // own spans take their parent from the traceparent they carry.
        Activity.Current = null;
        using var call = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, lifetime.ApplicationStopping);
        // Database work of set-up goes through the gate, each in a scope of its own: a live stream holds no DbContext.
        var authenticated = await gate.RunAsync(sp => sp.GetRequiredService<AgentAuthenticator>().AuthenticateAsync(context.RequestHeaders, call.Token), call.Token);

        AgentMessage first;
        using (var registration = CancellationTokenSource.CreateLinkedTokenSource(call.Token))
        {
            registration.CancelAfter(_options.RegistrationTimeout);
            try
            {
                if (!await requestStream.MoveNext(registration.Token))
                {
                    return;
                }
            }
            catch (OperationCanceledException) when (!call.IsCancellationRequested)
            {
                throw new RpcException(new Status(StatusCode.DeadlineExceeded, "No registration received in time."));
            }
            first = requestStream.Current;
        }
        if (first.PayloadCase != AgentMessage.PayloadOneofCase.Registration)
        {
            await responseStream.WriteAsync(ErrorMessage("REGISTRATION_REQUIRED", "The first message of a stream must be a registration."), call.Token);
            return;
        }

        Guid agentId;
        string? credential = null;
        Dictionary<string, string>? tokenLabels = null;
        if (authenticated is { } id)
        {
            agentId = id;
        }
        else if (first.Registration.Token.Length > 0)
        {
            var enrollment = await gate.RunAsync(sp => sp.GetRequiredService<AgentAuthenticator>().EnrollAsync(first.Registration.Token, call.Token), call.Token);
            if (!enrollment.Success)
            {
                logger.LogInformation("Enrollment refused: {Reason}", enrollment.Error);
                await responseStream.WriteAsync(new MasterMessage
                {
                    Timestamp = Now(),
                    RegistrationResponse = new RegistrationResponse { Success = false, ErrorMessage = enrollment.Error },
                }, call.Token);
                return;
            }
            (agentId, credential, tokenLabels) = (enrollment.AgentId, enrollment.Credential, enrollment.TokenLabels);
        }
        else
        {
            throw AgentAuthenticator.Unauthenticated("Enroll with a registration token, or send the agent credential in metadata.");
        }
        if (first.AgentId.Length > 0 && first.AgentId != agentId.ToString("D"))
        {
            await responseStream.WriteAsync(ErrorMessage("AGENT_ID_MISMATCH", "agent_id does not match the authenticated agent."), call.Token);
            return;
        }

        var connected = await connector.ConnectAsync(agentId, first.Registration, PeerAddress(context.Peer), tokenLabels, call.Token)
            ?? throw AgentAuthenticator.Unauthenticated("The agent no longer exists.");
        var connection = new AgentConnection(agentId, connected.WorkspaceId, connected.Epoch, _options.SendQueueCapacity, call);
        // Queued before the connection is visible to pushes and commands: the response is always the first message.
        connection.TryEnqueue(new MasterMessage
        {
            RegistrationResponse = new RegistrationResponse
            {
                AgentId = agentId.ToString("D"),
                Success = true,
                HeartbeatIntervalSeconds = _options.HeartbeatIntervalSeconds,
                AgentCredential = credential ?? "",
            },
        });
        registry.Register(connection)?.Close("replaced");
        var writer = Task.CompletedTask;
        try
        {
            await messaging.PublishReplacedAsync(agentId, connected.Epoch);
            await commands.AttachAsync(connection);
            // Started only now: once the agent reads its registration response, commands already reach it.
            writer = connection.RunWriterAsync(responseStream);
            await events.PublishAsync(FleetEventTypes.AgentConnected, connected.WorkspaceId, new JsonObject
            {
                ["agent_id"] = agentId.ToString("D"),
                ["hostname"] = connected.Hostname,
                ["ip_address"] = connected.IpAddress,
            });
            logger.LogInformation("Agent {AgentId} connected (epoch {Epoch}{Enrolled}).", agentId, connected.Epoch, credential is null ? "" : ", enrolled");
            await ReadLoopAsync(requestStream, connection, credential);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException)
        {
            // Closed here (replaced, deleted, slow consumer) or the peer went away (keepalive, reset): a normal end.
        }
        finally
        {
            var reason = connection.CloseReason;
            registry.Remove(connection);
            await commands.DetachAsync(connection);
            // Let queued messages (e.g. the Error answering a protocol violation) go out, briefly.
            connection.Complete();
            try
            {
                await writer.WaitAsync(TimeSpan.FromSeconds(2));
            }
            catch (TimeoutException)
            {
            }
            connection.Close(DisconnectReasons.ConnectionClosed);
            await writer;
            await MarkOfflineAsync(connection, reason == "replaced" ? null : lifetime.ApplicationStopping.IsCancellationRequested
                ? DisconnectReasons.Shutdown
                : reason ?? DisconnectReasons.ConnectionClosed);
        }
    }

    // enrolledCredential: the credential issued on this stream, if it enrolled. The first health report proves the agent
    // read the registration response (it reports only after storing the credential), so from then on the token is
    // "already used" — not only at the agent's next reconnect, which may be days away.
    private async Task ReadLoopAsync(IAsyncStreamReader<AgentMessage> requestStream, AgentConnection connection, string? enrolledCredential)
    {
        var expectedId = connection.AgentId.ToString("D");
        while (await requestStream.MoveNext(connection.Closed))
        {
            var message = requestStream.Current;
            if (message.AgentId.Length > 0 && message.AgentId != expectedId)
            {
                connection.TryEnqueue(ErrorMessage("AGENT_ID_MISMATCH", "agent_id does not match the authenticated agent."));
                connection.End(DisconnectReasons.ProtocolError);
                return;
            }
            switch (message.PayloadCase)
            {
                case AgentMessage.PayloadOneofCase.Health:
                    if (enrolledCredential is { } issued)
                    {
                        enrolledCredential = null;
                        await gate.RunAsync(sp => sp.GetRequiredService<AgentAuthenticator>().ConfirmStoredAsync(connection.AgentId, issued, connection.Closed), connection.Closed);
                    }
                    await OnHealthAsync(connection, message.Health);
                    break;
                case AgentMessage.PayloadOneofCase.ConfigStatus:
                    await OnConfigStatusAsync(connection, message.ConfigStatus, message.Timestamp);
                    break;
                case AgentMessage.PayloadOneofCase.CommandResult:
                    await commands.OnResultAsync(connection, message.CommandResult);
                    break;
                case AgentMessage.PayloadOneofCase.Metrics or AgentMessage.PayloadOneofCase.Logs:
                    await telemetry.AcceptAsync(connection, message);
                    break;
                case AgentMessage.PayloadOneofCase.Event:
                    await OnAgentEventAsync(connection, message.Event);
                    break;
                case AgentMessage.PayloadOneofCase.Registration:
                    connection.TryEnqueue(ErrorMessage("ALREADY_REGISTERED", "A stream registers once."));
                    break;
            }
        }
    }

    /// <summary>
    /// A health report: decided in memory (push, state, alerts); the desired config is resolved in a batch when the
    /// stream has none yet, and the report is persisted by <see cref="HealthWriter"/> (which closes the stream if
    /// a newer connection won the epoch or the agent was deleted).
    /// </summary>
    private async Task OnHealthAsync(AgentConnection connection, HealthReport health)
    {
        var outcome = await pusher.OnHealthAsync(connection, health, connection.Closed);
        if (outcome.NeedsResolve)
        {
            recompute.RequestResolve(connection);
        }
        if (outcome.NeedsReconcile)
        {
            await recompute.MarkRunningDesiredAsync(connection, connection.Closed);
        }
        await alerts.OnHealthAsync(new HealthFacts(connection.AgentId, connection.WorkspaceId, connection.Epoch, health, outcome.State,
            time.GetUtcNow() - connection.DriftSince, connection.DesiredConfigId), connection, connection.Closed);
        healthWriter.Enqueue(new PendingHealth(connection, connection.AgentId, connection.WorkspaceId, connection.Epoch, outcome.State,
            time.GetUtcNow(), health));
    }

    private async Task OnConfigStatusAsync(AgentConnection connection, ConfigStatus status, long messageTimestamp)
    {
        var at = status.AppliedAt > 0 ? status.AppliedAt : messageTimestamp > 0 ? messageTimestamp : Now();
        if (status.Status == ConfigApplyStatus.Pending)
        {
            connection.ApplyStartedAt[status.ConfigId] = at;
        }
        var terminal = AgentStore.IsTerminal(status.Status);
        long duration = 0;
        DateTimeOffset? startedAt = null;
        if (terminal && connection.ApplyStartedAt.TryGetValue(status.ConfigId, out var started))
        {
            duration = Math.Max(0, at - started);
            startedAt = DateTimeOffset.FromUnixTimeMilliseconds(started);
        }
        if (!await statusWriter.RecordAsync(new PendingStatus(connection.AgentId, connection.WorkspaceId, connection.Epoch, status, duration,
                startedAt, DateTimeOffset.FromUnixTimeMilliseconds(at)), connection.Closed))
        {
            connection.Close("replaced");
            return;
        }
        if (!terminal)
        {
            return;
        }
        await pusher.OnTerminalStatusAsync(connection, status, connection.Closed);
        var data = new JsonObject
        {
            ["agent_id"] = connection.AgentId.ToString("D"),
            ["config_id"] = status.ConfigId,
            ["version"] = status.Version,
            ["duration_ms"] = duration,
            ["success"] = status.Status == ConfigApplyStatus.Success,
            ["status"] = EnumNames.ToSnakeCase(AgentStore.ToEntity(status.Status)),
        };
        if (status.ErrorMessage.Length > 0)
        {
            data["error_message"] = status.ErrorMessage;
        }
        await events.PublishAsync(FleetEventTypes.ConfigApplied, connection.WorkspaceId, data);
    }

    private Task OnAgentEventAsync(AgentConnection connection, Event agentEvent)
    {
        var data = new JsonObject();
        foreach (var (key, value) in agentEvent.Data.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            data[key] = value;
        }
        return events.PublishAsync(FleetEventTypes.AgentEvent, connection.WorkspaceId, new JsonObject
        {
            ["agent_id"] = connection.AgentId.ToString("D"),
            ["event_id"] = agentEvent.EventId,
            ["event_type"] = agentEvent.EventType,
            ["data"] = data,
        }, agentEvent.Timestamp > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(agentEvent.Timestamp) : null);
    }

    private async Task MarkOfflineAsync(AgentConnection connection, string? reason)
    {
        if (reason is null)
        {
            return;
        }
        try
        {
            // Reports queued before the stream ended are written first, so none of them lands after the offline mark.
            try
            {
                await healthWriter.FlushAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
            }
            catch (TimeoutException)
            {
                logger.LogWarning("Health reports of agent {AgentId} were not written within 10 s; marking it offline anyway.", connection.AgentId);
            }
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<NxMeshDbContext>();
            if (await AgentPresence.MarkConnectionOfflineAsync(db, connection.AgentId, connection.Epoch, CancellationToken.None) is { } offline)
            {
                await AgentPresence.PublishDisconnectedAsync(events, offline, reason);
                logger.LogInformation("Agent {AgentId} disconnected ({Reason}).", connection.AgentId, reason);
            }
        }
        catch (Exception ex)
        {
            logger.LogWarning(ex, "Could not mark agent {AgentId} offline; the Worker's offline job will.", connection.AgentId);
        }
    }

    public override async Task<Ack> ReportHealth(HealthReport request, ServerCallContext context)
    {
        var agentId = await RequireIdentityAsync(context);
        if (registry.Get(agentId) is { } connection)
        {
            await OnHealthAsync(connection, request);
        }
        else
        {
            var workspaceId = await WorkspaceOfAsync(agentId, context.CancellationToken)
                ?? throw AgentAuthenticator.Unauthenticated("The agent no longer exists.");
            await alerts.OnHealthAsync(new HealthFacts(agentId, workspaceId, null, request, null, null, null), null, context.CancellationToken);
            healthWriter.Enqueue(new PendingHealth(null, agentId, workspaceId, null, null, time.GetUtcNow(), request));
        }
        // A unary report is answered once stored.
        await healthWriter.FlushAsync(context.CancellationToken);
        return new Ack { Success = true };
    }

    public override async Task<Ack> ReportMetrics(MetricsBatch request, ServerCallContext context)
    {
        var agentId = await RequireIdentityAsync(context);
        var workspaceId = await WorkspaceOfAsync(agentId, context.CancellationToken)
            ?? throw AgentAuthenticator.Unauthenticated("The agent no longer exists.");
        return await telemetry.IngestAsync(agentId, workspaceId, request, context.CancellationToken);
    }

    private async Task<Guid> RequireIdentityAsync(ServerCallContext context)
    {
        await using var scope = scopes.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<AgentAuthenticator>().AuthenticateAsync(context.RequestHeaders, context.CancellationToken)
            ?? throw AgentAuthenticator.Unauthenticated("Send x-nxmesh-agent-id and authorization: Bearer <agent_credential>.");
    }

    private async Task<Guid?> WorkspaceOfAsync(Guid agentId, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<AgentStore>().WorkspaceOfAsync(agentId, cancellationToken);
    }

    private long Now() => time.GetUtcNow().ToUnixTimeMilliseconds();

    private MasterMessage ErrorMessage(string code, string message) =>
        new() { Timestamp = Now(), Error = new Error { Code = code, Message = message } };

    /// <summary>"ipv4:127.0.0.1:5000" / "ipv6:[::1]:5000" → the address.</summary>
    private static string? PeerAddress(string? peer)
    {
        if (string.IsNullOrEmpty(peer))
        {
            return null;
        }
        var withoutScheme = peer[(peer.IndexOf(':', StringComparison.Ordinal) + 1)..];
        var port = withoutScheme.LastIndexOf(':');
        var host = port > 0 ? withoutScheme[..port] : withoutScheme;
        return host.Trim('[', ']');
    }
}
