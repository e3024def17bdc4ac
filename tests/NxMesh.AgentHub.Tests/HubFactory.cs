extern alias agenthub;

using System.Security.Cryptography;
using Grpc.AspNetCore.Server;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using NxMesh.Protocol.V1;
using NxMesh.Testing;

namespace NxMesh.AgentHub.Tests;

/// <summary>
/// One AgentHub on real Kestrel (h2c on a random loopback port) against the fixture's Postgres and Redis, with
/// short timers. Several may run at once (they share Redis, like instances of a deployment).
/// </summary>
public sealed class HubFactory : WebApplicationFactory<agenthub::Program>
{
    private static readonly string KeyEncryptionKey = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
    private readonly DatabaseFixture _database;
    private readonly Dictionary<string, string?> _settings;
    private GrpcChannel? _channel;

    public HubFactory(DatabaseFixture database, Dictionary<string, string?>? settings = null, int? grpcPort = null)
    {
        _database = database;
        GrpcPort = grpcPort ?? FreePort();
        _settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:nxmesh"] = database.ConnectionString,
            ["ConnectionStrings:redis"] = database.RedisConnectionString,
            ["DataProtection:KeyEncryptionKey"] = KeyEncryptionKey,
            ["Kestrel:Endpoints:grpc:Url"] = $"http://127.0.0.1:{GrpcPort}",
            ["Kestrel:Endpoints:http:Url"] = $"http://127.0.0.1:{FreePort()}",
            ["AgentHub:HeartbeatIntervalSeconds"] = "1",
            ["AgentHub:DebounceMilliseconds"] = "100",
            ["AgentHub:RepushIntervalSeconds"] = "1",
            ["AgentHub:DesiredRefreshSeconds"] = "1",
            ["AgentHub:OutboxPollMilliseconds"] = "50",
            ["AgentHub:SendQueueCapacity"] = "8",
            ["Logging:LogLevel:Default"] = "Warning",
            ["Logging:LogLevel:NxMesh"] = "Information",
        };
        foreach (var (key, value) in settings ?? [])
        {
            _settings[key] = value;
        }
        UseKestrel();
    }

    public int GrpcPort { get; }
    public DatabaseFixture Database => _database;

    public AgentService.AgentServiceClient Client
    {
        get
        {
            StartServer();
            _channel ??= GrpcChannel.ForAddress($"http://127.0.0.1:{GrpcPort}");
            return new AgentService.AgentServiceClient(_channel);
        }
    }

    /// <summary>A new HTTP/2 connection (its own channel), as a separate agent process would have.</summary>
    public AgentService.AgentServiceClient NewConnectionClient(out GrpcChannel channel)
    {
        StartServer();
        channel = GrpcChannel.ForAddress($"http://127.0.0.1:{GrpcPort}");
        return new AgentService.AgentServiceClient(channel);
    }

    public static Metadata Credentials(Guid agentId, string credential) => new()
    {
        { "x-nxmesh-agent-id", agentId.ToString("D") },
        { "authorization", "Bearer " + credential },
    };

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }
        builder.UseEnvironment("Testing");
        builder.ConfigureServices(services => services.Configure<GrpcServiceOptions>(o => o.EnableDetailedErrors = true));
    }

    protected override void Dispose(bool disposing)
    {
        _channel?.Dispose();
        base.Dispose(disposing);
    }

    private static int FreePort() => NxMesh.AppHost.Local.LocalDataDirectory.FreeTcpPort();
}
