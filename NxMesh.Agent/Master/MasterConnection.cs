using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Reflection;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Options;
using NxMesh.Agent.Apply;
using NxMesh.Agent.Commands;
using NxMesh.Agent.Health;
using NxMesh.Agent.Nginx;
using NxMesh.Agent.Telemetry;
using NxMesh.Protocol.V1;

namespace NxMesh.Agent.Master;

/// <summary>
/// The connection to the AgentHub (AgentService.Stream). Enrolls with the registration token once and keeps the
/// returned credential (identity.json); every later stream sends x-nxmesh-agent-id and the bearer credential, then a
/// registration, then a health report. Config updates go to the applier, commands to the handler, everything the
/// agent says comes from the outbox. Transient failures reconnect with jittered backoff (1 s → 30 s);
/// UNAUTHENTICATED is permanent: the loop stops and says so. nginx keeps serving throughout.
/// </summary>
internal sealed partial class MasterConnection : BackgroundService
{
    public const string AgentIdHeader = "x-nxmesh-agent-id";
    private static readonly TimeSpan RegistrationTimeout = TimeSpan.FromSeconds(30);

    private readonly AgentOptions _options;
    private readonly AgentIdentityStore _identities;
    private readonly AgentOutbox _outbox;
    private readonly ConfigApplier _applier;
    private readonly CommandHandler _commands;
    private readonly HealthCollector _health;
    private readonly ILogger<MasterConnection> _logger;
    private readonly Backoff _backoff;
    private readonly NginxBuild _build;
    private readonly TelemetryBuffer _telemetry;

    public MasterConnection(
        IOptions<AgentOptions> options, AgentIdentityStore identities, AgentOutbox outbox, ConfigApplier applier, CommandHandler commands,
        HealthCollector health, NginxBuild build, TelemetryBuffer telemetry, ILogger<MasterConnection> logger, Backoff? backoff = null)
    {
        _options = options.Value;
        _identities = identities;
        _outbox = outbox;
        _applier = applier;
        _commands = commands;
        _health = health;
        _logger = logger;
        _backoff = backoff ?? Backoff.Default();
        _build = build;
        _telemetry = telemetry;
    }

    /// <summary>Connected and registered right now.</summary>
    public bool IsConnected { get; private set; }

    /// <summary>Set when the master refused the credential for good; the agent no longer reconnects.</summary>
    public string? PermanentFailure { get; private set; }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_options.MasterUrl is not { Length: > 0 } url)
        {
            LogNoMaster();
            return;
        }
        GrpcChannel channel;
        try
        {
            channel = GrpcChannel.ForAddress(url, new GrpcChannelOptions { HttpHandler = CreateHandler() });
        }
        catch (Exception ex) when (ex is IOException or System.Security.Cryptography.CryptographicException or ArgumentException or InvalidOperationException)
        {
            PermanentFailure = "the master connection settings are unusable: " + ex.Message;
            LogPermanent(PermanentFailure);
            return;
        }
        using var _ = channel;
        var client = new AgentService.AgentServiceClient(channel);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await RunSessionAsync(client, stoppingToken);
                LogStreamEnded();
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.Unauthenticated)
            {
                PermanentFailure = "the master refused the agent's credential (UNAUTHENTICATED): " + ex.Status.Detail;
                LogUnauthenticated(ex.Status.Detail);
                return;
            }
            catch (PermanentConnectionException ex)
            {
                PermanentFailure = ex.Message;
                LogPermanent(ex.Message);
                return;
            }
            catch (Exception ex) when (stoppingToken.IsCancellationRequested && ex is OperationCanceledException or RpcException { StatusCode: StatusCode.Cancelled })
            {
                // The agent is stopping (the call surfaces as CANCELLED): not a connection failure, no reconnect.
                return;
            }
            catch (Exception ex)
            {
                // Anything else is treated as transient too: the agent must keep trying while nginx serves.
                LogTransient(ex.GetType().Name, ex.Message);
            }
            finally
            {
                IsConnected = false;
            }
            var delay = _backoff.Next();
            LogReconnecting(delay.TotalSeconds);
            try
            {
                await Task.Delay(delay, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task RunSessionAsync(AgentService.AgentServiceClient client, CancellationToken stoppingToken)
    {
        var identity = _identities.Load();
        if (identity is null && string.IsNullOrEmpty(_options.RegistrationToken))
        {
            throw new PermanentConnectionException("no stored credential and no registration token: the agent cannot enroll");
        }
        var headers = new Metadata();
        if (identity is not null)
        {
            headers.Add(AgentIdHeader, identity.AgentId);
            headers.Add("authorization", "Bearer " + identity.Credential);
        }
        using var session = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        using var call = client.Stream(headers, cancellationToken: session.Token);
        var agentId = identity?.AgentId ?? "";
        await call.RequestStream.WriteAsync(new AgentMessage
        {
            AgentId = agentId,
            Timestamp = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            Registration = Registration(identity is null ? _options.RegistrationToken! : ""),
        }, session.Token);

        using (var registrationWait = CancellationTokenSource.CreateLinkedTokenSource(session.Token))
        {
            registrationWait.CancelAfter(RegistrationTimeout);
            if (!await call.ResponseStream.MoveNext(registrationWait.Token))
            {
                throw new IOException("the master closed the stream before answering the registration");
            }
        }
        var first = call.ResponseStream.Current;
        if (first.PayloadCase != MasterMessage.PayloadOneofCase.RegistrationResponse)
        {
            throw new IOException($"the master answered the registration with {first.PayloadCase}");
        }
        var response = first.RegistrationResponse;
        if (!response.Success)
        {
            throw new IOException("registration refused: " + response.ErrorMessage);
        }
        if (response.AgentCredential is { Length: > 0 } credential)
        {
            identity = new AgentIdentity(response.AgentId, credential);
            _identities.Save(identity);
            LogEnrolled(response.AgentId);
        }
        agentId = response.AgentId is { Length: > 0 } id ? id : agentId;
        IsConnected = true;
        _backoff.Reset();
        LogRegistered(agentId);

        await call.RequestStream.WriteAsync(new AgentMessage
        {
            AgentId = agentId,
            Timestamp = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            Health = await _health.CollectAsync(session.Token),
        }, session.Token);
        _telemetry.SessionStarted();
        var writer = WriteAsync(call.RequestStream, agentId, session.Token);
        try
        {
            while (await call.ResponseStream.MoveNext(session.Token))
            {
                Dispatch(call.ResponseStream.Current, session.Token);
            }
        }
        finally
        {
            await session.CancelAsync();
            await writer.ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    /// <summary>
    /// The single loop that writes the request stream: the outbox first (statuses, events, health, command results),
    /// then telemetry batches one at a time as the buffer's window allows.
    /// </summary>
    private async Task WriteAsync(IClientStreamWriter<AgentMessage> stream, string agentId, CancellationToken cancellationToken)
    {
        Task<bool>? outboxReady = null;
        Task? telemetryReady = null;
        while (!cancellationToken.IsCancellationRequested)
        {
            while (_outbox.Reader.TryRead(out var message))
            {
                message.AgentId = agentId;
                await stream.WriteAsync(message, cancellationToken);
            }
            if (_telemetry.TryTakeNext(out var batch))
            {
                batch.AgentId = agentId;
                await stream.WriteAsync(batch, cancellationToken);
                continue;
            }
            outboxReady ??= _outbox.Reader.WaitToReadAsync(cancellationToken).AsTask();
            telemetryReady ??= _telemetry.WaitAsync(cancellationToken);
            if (await Task.WhenAny(outboxReady, telemetryReady) == outboxReady)
            {
                if (!await outboxReady)
                {
                    return;
                }
                outboxReady = null;
            }
            else
            {
                await telemetryReady;
                telemetryReady = null;
            }
        }
    }

    private void Dispatch(MasterMessage message, CancellationToken cancellationToken)
    {
        switch (message.PayloadCase)
        {
            case MasterMessage.PayloadOneofCase.ConfigUpdate:
                _applier.Submit(message.ConfigUpdate);
                break;
            case MasterMessage.PayloadOneofCase.Command:
                var command = message.Command;
                _ = Task.Run(async () => _outbox.Post(await _commands.HandleAsync(command, CancellationToken.None)), CancellationToken.None);
                break;
            case MasterMessage.PayloadOneofCase.Ack:
                _telemetry.Acknowledge(message.Ack);
                break;
            case MasterMessage.PayloadOneofCase.Error:
                LogMasterError(message.Error.Code, message.Error.Message);
                break;
            default:
                break;
        }
    }

    private RegistrationRequest Registration(string token)
    {
        var request = new RegistrationRequest
        {
            Token = token,
            Hostname = Dns.GetHostName(),
            IpAddress = AdvertisedAddress(),
            Version = typeof(MasterConnection).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0",
            DeploymentMode = _options.DeploymentMode.ToLowerInvariant() switch
            {
                "docker_sidecar" => DeploymentMode.DockerSidecar,
                "kubernetes_sidecar" => DeploymentMode.KubernetesSidecar,
                _ => DeploymentMode.Standalone,
            },
        };
        request.Capabilities.AddRange(_build.Capabilities.Names());
        foreach (var (key, value) in _options.Labels)
        {
            request.Labels[key] = value;
        }
        return request;
    }

    private string AdvertisedAddress()
    {
        if (IPAddress.TryParse(_options.ListenAddress, out var listen) && !listen.Equals(IPAddress.Any) && !listen.Equals(IPAddress.IPv6Any))
        {
            return listen.ToString();
        }
        try
        {
            return Dns.GetHostAddresses(Dns.GetHostName()).FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a))?.ToString() ?? "";
        }
        catch (SocketException)
        {
            return "";
        }
    }

    private SocketsHttpHandler CreateHandler()
    {
        var handler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = true,
            KeepAlivePingDelay = TimeSpan.FromSeconds(30),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(10),
            ConnectTimeout = TimeSpan.FromSeconds(10),
        };
        if (_options.MasterCaFile is { Length: > 0 } caFile)
        {
            var roots = new X509Certificate2Collection();
            roots.ImportFromPemFile(caFile);
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
            {
                if (certificate is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None)
                {
                    return false;
                }
                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.AddRange(roots);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return chain.Build(new X509Certificate2(certificate));
            };
        }
        if (_options.MasterClientCertificateFile is { Length: > 0 } certFile)
        {
            handler.SslOptions.ClientCertificates = [X509Certificate2.CreateFromPemFile(certFile, _options.MasterClientKeyFile)];
        }
        return handler;
    }

    private sealed class PermanentConnectionException(string message) : Exception(message);

    [LoggerMessage(Level = LogLevel.Information, Message = "no master URL configured: serving the last known good config on its own")]
    private partial void LogNoMaster();

    [LoggerMessage(Level = LogLevel.Information, Message = "enrolled as agent {AgentId}; credential stored in the state folder")]
    private partial void LogEnrolled(string agentId);

    [LoggerMessage(Level = LogLevel.Information, Message = "connected to the master as agent {AgentId}")]
    private partial void LogRegistered(string agentId);

    [LoggerMessage(Level = LogLevel.Information, Message = "the master ended the stream")]
    private partial void LogStreamEnded();

    [LoggerMessage(Level = LogLevel.Warning, Message = "master connection failed ({Kind}): {Reason}")]
    private partial void LogTransient(string kind, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "reconnecting to the master in {Seconds:0.0} s")]
    private partial void LogReconnecting(double seconds);

    [LoggerMessage(Level = LogLevel.Critical, Message = "the master rejected this agent's credential (UNAUTHENTICATED: {Detail}); not reconnecting. Re-enroll with a new registration token. nginx keeps serving.")]
    private partial void LogUnauthenticated(string detail);

    [LoggerMessage(Level = LogLevel.Critical, Message = "not connecting to the master: {Reason}. nginx keeps serving.")]
    private partial void LogPermanent(string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "the master reported an error: {Code} {Message}")]
    private partial void LogMasterError(string code, string message);
}
