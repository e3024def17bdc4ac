using System.Diagnostics;
using System.Net;
using Grpc.Core;
using Grpc.Net.Client;
using NxMesh.Protocol.V1;

namespace NxMesh.AgentSim.Sim;

/// <summary>
/// One simulated agent: its own HTTP/2 connection (a channel over its own handler), the real protocol (enrollment
/// with a token, then the credential in metadata), health with the applied checksum, and the ConfigStatus sequence
/// after a simulated apply time. Arrival and acknowledgement times are kept as Stopwatch timestamps.
/// </summary>
internal sealed class SimAgent : IAsyncDisposable
{
    private readonly SimSettings _settings;
    private readonly GrpcChannel _channel;
    private readonly AgentService.AgentServiceClient _client;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly AgentMessage _health;
    private readonly CancellationTokenSource _stop = new();
    private AsyncDuplexStreamingCall<AgentMessage, MasterMessage>? _call;
    private TaskCompletionSource<bool> _registered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _loop = Task.CompletedTask;
    private string? _token;

    public SimAgent(int index, Uri target, SimSettings settings, string? token)
    {
        Index = index;
        _settings = settings;
        _token = token;
        var handler = new SocketsHttpHandler
        {
            // One connection per agent, as a real fleet has: no sharing, no pooling across agents.
            EnableMultipleHttp2Connections = false,
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
            KeepAlivePingDelay = TimeSpan.FromSeconds(60),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(30),
            ConnectTimeout = TimeSpan.FromSeconds(30),
            InitialHttp2StreamWindowSize = 64 * 1024,
        };
        if (settings.SourceAddresses.Count > 0)
        {
            var local = settings.SourceAddresses[index % settings.SourceAddresses.Count];
            handler.ConnectCallback = (context, cancellationToken) => SimConnect.ConnectAsync(local, context.DnsEndPoint, cancellationToken);
        }
        _channel = GrpcChannel.ForAddress(target, new GrpcChannelOptions
        {
            HttpHandler = handler,
            DisposeHttpClient = true,
            MaxReceiveMessageSize = 16 * 1024 * 1024,
        });
        _client = new AgentService.AgentServiceClient(_channel);
        _health = new AgentMessage
        {
            Health = new HealthReport
            {
                Nginx = new NginxStatus { IsRunning = true, Pid = (uint)(10_000 + index), UptimeSeconds = 3600, ActiveConnections = 3, TotalRequests = 1000 },
                System = new SystemMetrics { CpuPercent = 3.5f, MemoryUsedBytes = 256UL << 20, MemoryTotalBytes = 2048UL << 20 },
            },
        };
    }

    public int Index { get; }
    public string AgentId { get; private set; } = "";
    public string Credential { get; private set; } = "";
    public bool Connected { get; private set; }
    public int Connects { get; private set; }
    public string? LastError { get; private set; }
    public string AppliedConfigId { get; private set; } = "";
    public long AppliedVersion { get; private set; }
    public int LastUpdateSize { get; private set; }

    /// <summary>Stopwatch timestamps of the latest registration response, ConfigUpdate arrival and SUCCESS sent.</summary>
    public long RegisteredAt { get; private set; }
    public long UpdateReceivedAt { get; private set; }
    public string UpdateConfigId { get; private set; } = "";
    public long SuccessSentAt { get; private set; }

    public Task<bool> Registered => _registered.Task;

    /// <summary>Starts the connection loop: connect, hold the stream, reconnect with jittered backoff when it ends.</summary>
    public void Start() => _loop = Task.Run(RunAsync);

    private async Task RunAsync()
    {
        var attempt = 0;
        while (!_stop.IsCancellationRequested)
        {
            var registeredThisTime = false;
            try
            {
                registeredThisTime = await SessionAsync();
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.Unauthenticated)
            {
                LastError = "UNAUTHENTICATED: " + ex.Status.Detail;
                _registered.TrySetResult(false);
                return;
            }
            catch (Exception ex) when (!_stop.IsCancellationRequested)
            {
                LastError = ex.GetType().Name + ": " + ex.Message;
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            Connected = false;
            if (_stop.IsCancellationRequested)
            {
                return;
            }
            attempt = registeredThisTime ? 0 : attempt + 1;
            // As the real agent: 1 s doubling to 30 s, ±20 % jitter.
            var delay = Math.Min(30_000, 1000 * Math.Pow(2, Math.Min(attempt, 5)));
            delay *= 0.8 + (Random.Shared.NextDouble() * 0.4);
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(delay), _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task<bool> SessionAsync()
    {
        Metadata? headers = null;
        if (_token is null)
        {
            headers = new Metadata { { "x-nxmesh-agent-id", AgentId }, { "authorization", "Bearer " + Credential } };
        }
        using var call = _client.Stream(headers, cancellationToken: _stop.Token);
        _call = call;
        var registration = new RegistrationRequest
        {
            Token = _token ?? "",
            Hostname = $"sim-{Index:D5}",
            IpAddress = "127.0.0.1",
            Version = "0.1.0-sim",
            DeploymentMode = DeploymentMode.Standalone,
        };
        registration.Capabilities.Add("http2");
        registration.Capabilities.Add("ssl");
        await WriteAsync(new AgentMessage { Registration = registration });
        var registered = false;
        while (await call.ResponseStream.MoveNext(_stop.Token))
        {
            var message = call.ResponseStream.Current;
            switch (message.PayloadCase)
            {
                case MasterMessage.PayloadOneofCase.RegistrationResponse:
                    var response = message.RegistrationResponse;
                    if (!response.Success)
                    {
                        LastError = "registration refused: " + response.ErrorMessage;
                        _registered.TrySetResult(false);
                        throw new RpcException(new Status(StatusCode.Unauthenticated, LastError));
                    }
                    if (response.AgentCredential.Length > 0)
                    {
                        Credential = response.AgentCredential;
                        _token = null;
                    }
                    AgentId = response.AgentId;
                    _health.AgentId = AgentId;
                    registered = true;
                    Connected = true;
                    Connects++;
                    RegisteredAt = Stopwatch.GetTimestamp();
                    _registered.TrySetResult(true);
                    // As the real agent: a health report right after the registration.
                    await SendHealthAsync();
                    break;
                case MasterMessage.PayloadOneofCase.ConfigUpdate:
                    OnConfigUpdate(message.ConfigUpdate);
                    break;
                case MasterMessage.PayloadOneofCase.Command:
                    await WriteAsync(new AgentMessage
                    {
                        CommandResult = new CommandResult
                        {
                            CommandId = message.Command.CommandId,
                            Success = true,
                            Message = "simulated",
                            CompletedAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
                        },
                    });
                    break;
                case MasterMessage.PayloadOneofCase.Error:
                    LastError = "error from master: " + message.Error;
                    break;
            }
        }
        return registered;
    }

    private void OnConfigUpdate(ConfigUpdate update)
    {
        UpdateReceivedAt = Stopwatch.GetTimestamp();
        UpdateConfigId = update.ConfigId;
        LastUpdateSize = update.CalculateSize();
        _ = ApplyAsync(update.ConfigId, update.Version);
    }

    private async Task ApplyAsync(string configId, long version)
    {
        try
        {
            var started = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            await SendStatusAsync(configId, version, ConfigApplyStatus.Pending, started);
            await SendStatusAsync(configId, version, ConfigApplyStatus.Validating, started);
            if (_settings.ApplyTime > TimeSpan.Zero)
            {
                await Task.Delay(_settings.ApplyTime, _stop.Token);
            }
            await SendStatusAsync(configId, version, ConfigApplyStatus.Applying, started);
            AppliedConfigId = configId;
            AppliedVersion = version;
            await SendStatusAsync(configId, version, ConfigApplyStatus.Success, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            SuccessSentAt = Stopwatch.GetTimestamp();
        }
        catch (Exception ex) when (ex is RpcException or InvalidOperationException or OperationCanceledException or IOException)
        {
            // The stream ended during the simulated apply: the next session's health report heals it.
        }
    }

    private Task SendStatusAsync(string configId, long version, ConfigApplyStatus status, long appliedAt) =>
        WriteAsync(new AgentMessage
        {
            AgentId = AgentId,
            ConfigStatus = new ConfigStatus { ConfigId = configId, Version = version, Status = status, AppliedAt = appliedAt },
        });

    /// <summary>Sends the health report (applied checksum); false when the stream is not up.</summary>
    public async Task<bool> SendHealthAsync()
    {
        if (_call is null)
        {
            return false;
        }
        try
        {
            await _writeLock.WaitAsync(_stop.Token);
            try
            {
                _health.Timestamp = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
                _health.Health.ConfigChecksum = AppliedConfigId;
                _health.Health.ConfigVersion = AppliedVersion;
                await _call.RequestStream.WriteAsync(_health, _stop.Token);
            }
            finally
            {
                _writeLock.Release();
            }
            return true;
        }
        catch (Exception ex) when (ex is RpcException or InvalidOperationException or OperationCanceledException or IOException or ObjectDisposedException)
        {
            return false;
        }
    }

    private async Task WriteAsync(AgentMessage message)
    {
        var call = _call ?? throw new InvalidOperationException("No stream.");
        await _writeLock.WaitAsync(_stop.Token);
        try
        {
            message.Timestamp = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            await call.RequestStream.WriteAsync(message, _stop.Token);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>Resets the registration signal, so a caller can await the next (re)connection.</summary>
    public void ExpectReconnect() => _registered = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        try
        {
            await _loop.WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException or RpcException)
        {
        }
        _channel.Dispose();
        _stop.Dispose();
    }
}

/// <summary>What every simulated agent shares.</summary>
internal sealed record SimSettings(TimeSpan ApplyTime, IReadOnlyList<IPAddress> SourceAddresses);
