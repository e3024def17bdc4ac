using System.Globalization;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using NxMesh.AppHost;
using Xunit;

namespace NxMesh.EndToEnd.Tests;

/// <summary>
/// One local-mode fleet per test collection: the real AppHost with random ports, a fresh data folder and its own
/// /24 of loopback addresses for the agent replicas, so it never collides with `./nxmesh.sh up`.
/// </summary>
public sealed class FleetFixture : IAsyncLifetime
{
    public static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(4);
    private readonly string _dataDirectory = Path.Combine(Path.GetTempPath(), "nxmesh-e2e-" + Guid.NewGuid().ToString("N")[..12]);

    public const int Replicas = 2;
    /// <summary>AgentHub instances (NxMesh:AgentHubReplicas); replica i talks to hub ((i − 1) mod AgentHubs) + 1.</summary>
    public const int AgentHubs = 2;
    public string AgentAddressPrefix { get; } = $"127.0.{Random.Shared.Next(100, 200).ToString(CultureInfo.InvariantCulture)}.";
    public int AgentPortOffset { get; } = FleetSettings.RunningAsRoot ? 0 : 8000;
    public DistributedApplication App { get; private set; } = null!;
    public string DataDirectory => _dataDirectory;
    /// <summary>Pebble for the certificate tests (issue 8); started on first use, the Worker points at it.</summary>
    public AcmeTestServer Acme { get; }

    public FleetFixture() => Acme = new AcmeTestServer(AgentAddressPrefix + "11", 80 + AgentPortOffset);

    public async Task InitializeAsync()
    {
        Environment.SetEnvironmentVariable("ASPIRE_ALLOW_UNSECURED_TRANSPORT", "true");
        using var cts = new CancellationTokenSource(StartTimeout);
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.NxMesh_AppHost>(
            [
                "--NxMesh:Mode=local",
                $"--NxMesh:DataDirectory={_dataDirectory}",
                "--NxMesh:PostgresPort=0",
                "--NxMesh:RedisPort=0",
                $"--NxMesh:AgentReplicas={Replicas}",
                $"--NxMesh:AgentHubReplicas={AgentHubs}",
                $"--NxMesh:AgentAddressPrefix={AgentAddressPrefix}",
                $"--NxMesh:AgentPortOffset={AgentPortOffset}",
                .. Acme.AppHostArguments,
            ],
            cts.Token);
        builder.Services.AddLogging(logging =>
        {
            logging.SetMinimumLevel(LogLevel.Warning);
            // Diagnosis: NXMESH_E2E_RESOURCE_LOGS=agent shows the stdout (Information) of the resources whose name starts so.
            if (Environment.GetEnvironmentVariable("NXMESH_E2E_RESOURCE_LOGS") is { Length: > 0 } resources)
            {
                logging.AddFilter("NxMesh.AppHost.Resources." + resources, LogLevel.Information);
            }
        });
        App = await builder.BuildAsync(cts.Token);
        await App.StartAsync(cts.Token);

        // The replicas start with the migrator, before their hub listens, and enroll through their reconnect backoff:
        // every test starts with the whole fleet enrolled.
        foreach (var hub in AgentHubNames)
        {
            await WaitHealthyAsync(hub, cts.Token);
        }
        using var session = await FleetSession.OpenAsync(this);
        for (var replica = 1; replica <= Replicas; replica++)
        {
            await session.WaitOnlineAsync(replica, ConnectTimeout);
        }
    }

    /// <summary>
    /// From a hub healthy to an agent connected to it. While no hub listens an attempt through DCP's endpoint proxy hangs
    /// until the HTTP/2 keepalive or the agent's 30 s registration timeout gives up, and the next waits out the backoff
    /// (at most 30 s + 20 % jitter): 66 s at worst, the rest is slack for a loaded machine.
    /// </summary>
    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(120);

    public async Task DisposeAsync()
    {
        if (App is not null)
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(1));
            await App.StopAsync(cts.Token);
            await App.DisposeAsync();
        }
        await Acme.DisposeAsync();
        try
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>Every AgentHub instance's resource name.</summary>
    public static IReadOnlyList<string> AgentHubNames { get; } = [.. Enumerable.Range(1, AgentHubs).Select(ResourceNames.AgentHubInstance)];

    /// <summary>The AgentHub instance replica <paramref name="replica"/> talks to (the AppHost's round robin).</summary>
    public static string AgentHubOf(int replica) => ResourceNames.AgentHubInstance(new FleetSettings { AgentHubReplicas = AgentHubs }.AgentHubOf(replica));

    public Task WaitHealthyAsync(string resource, CancellationToken cancellationToken) =>
        App.ResourceNotifications.WaitForResourceHealthyAsync(resource, cancellationToken);

    public Task WaitFinishedAsync(string resource, CancellationToken cancellationToken) =>
        App.ResourceNotifications.WaitForResourceAsync(resource, KnownResourceStates.Finished, cancellationToken);
}

[CollectionDefinition(Name)]
public sealed class FleetCollection : ICollectionFixture<FleetFixture>
{
    public const string Name = "fleet";
}
