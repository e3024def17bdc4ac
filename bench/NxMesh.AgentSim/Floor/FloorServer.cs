using System.Collections.Concurrent;
using System.Threading.Channels;
using Grpc.Core;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using NxMesh.Protocol.V1;

namespace NxMesh.AgentSim.Floor;

/// <summary>
/// The physical floor: a bare AgentService that accepts every registration, keeps the streams in a dictionary with
/// one bounded channel and one writer each, reads and drops what agents send, and broadcasts on request. No
/// database, no auth, no logging: whatever AgentHub costs above this is NxMesh's own.
/// </summary>
internal static class FloorServer
{
    public static async Task<int> RunAsync(int grpcPort, int controlPort)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.Http2.MaxStreamsPerConnection = 100;
            kestrel.Listen(System.Net.IPAddress.Loopback, grpcPort, listen => listen.Protocols = HttpProtocols.Http2);
            kestrel.Listen(System.Net.IPAddress.Loopback, controlPort, listen => listen.Protocols = HttpProtocols.Http1);
        });
        builder.Services.AddGrpc();
        builder.Services.AddSingleton<FloorStreams>();
        var app = builder.Build();
        app.MapGrpcService<FloorService>();
        app.MapGet("/stats", (FloorStreams streams) => Results.Json(new FloorStats(streams.Count, streams.Successes)));
        app.MapPost("/broadcast", (int bytes, FloorStreams streams) => Results.Json(new FloorStats(streams.Broadcast(bytes), streams.Successes)));
        await app.RunAsync();
        return 0;
    }
}

internal sealed record FloorStats(int Streams, long Successes);

internal sealed class FloorStreams
{
    private readonly ConcurrentDictionary<long, Channel<MasterMessage>> _streams = new();
    private long _next;
    private long _successes;

    public int Count => _streams.Count;
    public long Successes => Interlocked.Read(ref _successes);

    public (long Id, Channel<MasterMessage> Channel) Add()
    {
        var channel = Channel.CreateBounded<MasterMessage>(new BoundedChannelOptions(64) { SingleReader = true, FullMode = BoundedChannelFullMode.DropWrite });
        var id = Interlocked.Increment(ref _next);
        _streams[id] = channel;
        return (id, channel);
    }

    public void Remove(long id) => _streams.TryRemove(id, out _);

    public void CountSuccess() => Interlocked.Increment(ref _successes);

    /// <summary>Writes one ConfigUpdate of about <paramref name="bytes"/> serialized bytes to every stream.</summary>
    public int Broadcast(int bytes)
    {
        var update = new ConfigUpdate { ConfigId = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray()), Version = Interlocked.Increment(ref _next) };
        update.VirtualHosts.Add(new VirtualHost { Id = "floor", Name = new string('x', Math.Max(0, bytes - 60)) });
        var message = new MasterMessage { Timestamp = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), ConfigUpdate = update };
        var written = 0;
        foreach (var channel in _streams.Values)
        {
            if (channel.Writer.TryWrite(message))
            {
                written++;
            }
        }
        return written;
    }
}

internal sealed class FloorService(FloorStreams streams) : AgentService.AgentServiceBase
{
    public override async Task Stream(IAsyncStreamReader<AgentMessage> requestStream, IServerStreamWriter<MasterMessage> responseStream, ServerCallContext context)
    {
        var token = context.CancellationToken;
        if (!await requestStream.MoveNext(token) || requestStream.Current.PayloadCase != AgentMessage.PayloadOneofCase.Registration)
        {
            return;
        }
        var (id, channel) = streams.Add();
        try
        {
            channel.Writer.TryWrite(new MasterMessage
            {
                RegistrationResponse = new RegistrationResponse { AgentId = $"floor-{id}", Success = true, HeartbeatIntervalSeconds = 30 },
            });
            var writer = WriteAsync(channel.Reader, responseStream, token);
            while (await requestStream.MoveNext(token))
            {
                if (requestStream.Current.ConfigStatus is { Status: ConfigApplyStatus.Success })
                {
                    streams.CountSuccess();
                }
            }
            channel.Writer.TryComplete();
            await writer;
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or InvalidOperationException)
        {
        }
        finally
        {
            streams.Remove(id);
        }
    }

    private static async Task WriteAsync(ChannelReader<MasterMessage> reader, IServerStreamWriter<MasterMessage> responseStream, CancellationToken token)
    {
        try
        {
            await foreach (var message in reader.ReadAllAsync(token))
            {
                await responseStream.WriteAsync(message, token);
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or InvalidOperationException)
        {
        }
    }
}
