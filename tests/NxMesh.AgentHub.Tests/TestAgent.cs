using System.Threading.Channels;
using Grpc.Core;
using NxMesh.Protocol.V1;

namespace NxMesh.AgentHub.Tests;

/// <summary>An agent's side of one Stream call: everything received is kept and can be awaited.</summary>
public sealed class TestAgent : IAsyncDisposable
{
    private readonly AsyncDuplexStreamingCall<AgentMessage, MasterMessage> _call;
    private readonly Channel<MasterMessage> _inbox = Channel.CreateUnbounded<MasterMessage>();
    private readonly List<MasterMessage> _all = [];
    private readonly TaskCompletionSource<Status> _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stop = new();
    private Task? _reader;
    private bool _disposed;

    private TestAgent(AsyncDuplexStreamingCall<AgentMessage, MasterMessage> call) => _call = call;

    public string AgentId { get; set; } = "";
    public Task<Status> Ended => _ended.Task;

    public List<MasterMessage> Received
    {
        get { lock (_all) { return [.. _all]; } }
    }

    /// <summary>Opens a stream and sends the registration. <paramref name="read"/> false: never reads a response.</summary>
    public static async Task<TestAgent> OpenAsync(AgentService.AgentServiceClient client, Metadata? headers,
        RegistrationRequest registration, bool read = true, string agentId = "")
    {
        var agent = new TestAgent(client.Stream(headers)) { AgentId = agentId };
        if (read)
        {
            agent._reader = agent.ReadAsync();
        }
        await agent.SendAsync(new AgentMessage { Registration = registration });
        return agent;
    }

    public static RegistrationRequest Registration(string token = "", Dictionary<string, string>? labels = null, string hostname = "web-01")
    {
        var registration = new RegistrationRequest
        {
            Token = token,
            Hostname = hostname,
            IpAddress = "127.0.0.11",
            Version = "0.1.0-test",
            DeploymentMode = DeploymentMode.Standalone,
        };
        registration.Capabilities.Add(["http2", "ssl"]);
        foreach (var (key, value) in labels ?? [])
        {
            registration.Labels[key] = value;
        }
        return registration;
    }

    public Task SendAsync(AgentMessage message)
    {
        message.AgentId = AgentId;
        message.Timestamp = message.Timestamp == 0 ? DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() : message.Timestamp;
        return _call.RequestStream.WriteAsync(message);
    }

    public Task ReportHealthAsync(string checksum, long version = 0, bool nginxRunning = true) =>
        SendAsync(new AgentMessage
        {
            Health = new HealthReport
            {
                ConfigChecksum = checksum,
                ConfigVersion = version,
                Nginx = new NginxStatus { IsRunning = nginxRunning, Pid = 42, ActiveConnections = 3 },
                System = new SystemMetrics { CpuPercent = 12.5f, MemoryUsedBytes = 512UL << 20, MemoryTotalBytes = 2048UL << 20 },
            },
        });

    public Task ReportStatusAsync(string configId, long version, ConfigApplyStatus status, long appliedAt, string error = "") =>
        SendAsync(new AgentMessage
        {
            ConfigStatus = new ConfigStatus { ConfigId = configId, Version = version, Status = status, AppliedAt = appliedAt, ErrorMessage = error },
        });

    /// <summary>The next received message matching <paramref name="match"/>; earlier non-matching ones are skipped.</summary>
    public async Task<MasterMessage> NextAsync(Func<MasterMessage, bool> match, TimeSpan? timeout = null, string what = "a message")
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        try
        {
            while (true)
            {
                var message = await _inbox.Reader.ReadAsync(cts.Token);
                if (match(message))
                {
                    return message;
                }
            }
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"No {what} within {(timeout ?? TimeSpan.FromSeconds(10)).TotalSeconds} s.");
        }
        catch (ChannelClosedException)
        {
            throw new InvalidOperationException($"The stream ended ({await Ended}) before {what} arrived.");
        }
    }

    public async Task<RegistrationResponse> RegistrationAsync()
    {
        var response = (await NextAsync(m => m.RegistrationResponse is not null, what: "registration response")).RegistrationResponse;
        if (response.Success)
        {
            AgentId = response.AgentId;
        }
        return response;
    }

    public async Task<ConfigUpdate> ConfigUpdateAsync(TimeSpan? timeout = null) =>
        (await NextAsync(m => m.ConfigUpdate is not null, timeout, "config update")).ConfigUpdate;

    /// <summary>True when no new message matching <paramref name="match"/> arrives within <paramref name="window"/>.</summary>
    public async Task<bool> NothingAsync(Func<MasterMessage, bool> match, TimeSpan window)
    {
        while (_inbox.Reader.TryRead(out _))
        {
        }
        try
        {
            await NextAsync(match, window);
            return false;
        }
        catch (TimeoutException)
        {
            return true;
        }
    }

    private async Task ReadAsync()
    {
        try
        {
            while (await _call.ResponseStream.MoveNext(_stop.Token))
            {
                lock (_all)
                {
                    _all.Add(_call.ResponseStream.Current);
                }
                _inbox.Writer.TryWrite(_call.ResponseStream.Current);
            }
            _ended.TrySetResult(Status.DefaultSuccess);
        }
        catch (RpcException ex)
        {
            _ended.TrySetResult(ex.Status);
        }
        catch (Exception ex)
        {
            _ended.TrySetResult(new Status(StatusCode.Unknown, ex.Message));
        }
        finally
        {
            _inbox.Writer.TryComplete();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        await _stop.CancelAsync();
        _call.Dispose();
        if (_reader is not null)
        {
            await _reader.WaitAsync(TimeSpan.FromSeconds(5));
        }
        _stop.Dispose();
    }
}
