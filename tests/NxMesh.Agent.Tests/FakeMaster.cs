using System.Collections.Concurrent;
using System.Net;
using System.Threading.Channels;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;
using NxMesh.Protocol.V1;

namespace NxMesh.Agent.Tests;

/// <summary>
/// A small in-test AgentService on a random loopback port (h2c): enrolls the token it was given, accepts the
/// credential it issued, can refuse the first calls as UNAVAILABLE, and lets a test push messages and read what
/// the agent sent.
/// </summary>
internal sealed class FakeMaster : AgentService.AgentServiceBase, IAsyncDisposable
{
    public const string Token = "nxmesh_agent_test-token";
    public const string AgentId = "7a1c0000-0000-4000-8000-000000000001";
    private WebApplication? _app;
    private Channel<MasterMessage> _toAgent = Channel.CreateUnbounded<MasterMessage>();

    public string Credential { get; set; } = "credential-" + Guid.NewGuid().ToString("N");
    public int UnavailableCalls { get; set; }
    public bool RejectAll { get; set; }
    public string Url { get; private set; } = "";
    public ConcurrentQueue<(Metadata Headers, RegistrationRequest Registration, DateTime At)> Calls { get; } = new();
    public ConcurrentQueue<AgentMessage> Received { get; } = new();
    public int CallCount => Volatile.Read(ref _callCount);

    /// <summary>Decides the answer to each telemetry batch (null: no answer); unset, nothing is acked.</summary>
    public Func<AgentMessage, Ack?>? Acks { get; set; }

    /// <summary>What the master stored: each acked batch once per batch_id, as the AgentHub dedupes.</summary>
    public ConcurrentDictionary<string, LogBatch> StoredLogs { get; } = new();

    public ConcurrentDictionary<string, MetricsBatch> StoredMetrics { get; } = new();
    private int _callCount;

    public static async Task<FakeMaster> StartAsync()
    {
        var master = new FakeMaster();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(master);
        master._app = builder.Build();
        master._app.MapGrpcService<FakeMaster>();
        await master._app.StartAsync();
        master.Url = master._app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return master;
    }

    public void Push(MasterMessage message) => _toAgent.Writer.TryWrite(message);

    /// <summary>Ends the current stream from the server side (the agent must reconnect).</summary>
    public void EndStream()
    {
        _toAgent.Writer.TryComplete();
    }

    public override async Task Stream(IAsyncStreamReader<AgentMessage> requestStream, IServerStreamWriter<MasterMessage> responseStream, ServerCallContext context)
    {
        var self = context.GetHttpContext().RequestServices.GetRequiredService<FakeMaster>();
        await self.HandleAsync(requestStream, responseStream, context);
    }

    private async Task HandleAsync(IAsyncStreamReader<AgentMessage> requestStream, IServerStreamWriter<MasterMessage> responseStream, ServerCallContext context)
    {
        var call = Interlocked.Increment(ref _callCount);
        if (call <= UnavailableCalls)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, "warming up"));
        }
        if (!await requestStream.MoveNext(context.CancellationToken))
        {
            return;
        }
        var registration = requestStream.Current.Registration;
        Calls.Enqueue((context.RequestHeaders, registration, DateTime.UtcNow));
        var agentIdHeader = context.RequestHeaders.GetValue("x-nxmesh-agent-id");
        var authorization = context.RequestHeaders.GetValue("authorization");
        string issued = "";
        if (RejectAll)
        {
            throw new RpcException(new Status(StatusCode.Unauthenticated, "revoked"));
        }
        if (agentIdHeader is null)
        {
            if (registration.Token != Token)
            {
                throw new RpcException(new Status(StatusCode.Unauthenticated, "bad token"));
            }
            issued = Credential;
        }
        else if (agentIdHeader != AgentId || authorization != "Bearer " + Credential)
        {
            throw new RpcException(new Status(StatusCode.Unauthenticated, "wrong credential"));
        }
        await responseStream.WriteAsync(new MasterMessage
        {
            RegistrationResponse = new RegistrationResponse { AgentId = AgentId, Success = true, HeartbeatIntervalSeconds = 5, AgentCredential = issued },
        });
        var reader = Task.Run(async () =>
        {
            try
            {
                while (await requestStream.MoveNext(context.CancellationToken))
                {
                    var received = requestStream.Current;
                    Received.Enqueue(received);
                    if (received.PayloadCase is AgentMessage.PayloadOneofCase.Logs or AgentMessage.PayloadOneofCase.Metrics && Acks?.Invoke(received) is { } ack)
                    {
                        if (ack.Success && received.Logs is { } logs)
                        {
                            StoredLogs.TryAdd(logs.BatchId, logs);
                        }
                        if (ack.Success && received.Metrics is { } metrics)
                        {
                            StoredMetrics.TryAdd(metrics.BatchId, metrics);
                        }
                        _toAgent.Writer.TryWrite(new MasterMessage { Ack = ack });
                    }
                }
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException or InvalidOperationException)
            {
            }
        });
        var outgoing = _toAgent;
        try
        {
            await foreach (var message in outgoing.Reader.ReadAllAsync(context.CancellationToken))
            {
                await responseStream.WriteAsync(message);
            }
        }
        catch (OperationCanceledException)
        {
        }
        // A completed channel ended this stream; the next stream gets a fresh one.
        Interlocked.CompareExchange(ref _toAgent, Channel.CreateUnbounded<MasterMessage>(), outgoing);
        await Task.WhenAny(reader, Task.Delay(100));
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
