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
                $"--NxMesh:AgentAddressPrefix={AgentAddressPrefix}",
                $"--NxMesh:AgentPortOffset={AgentPortOffset}",
                .. Acme.AppHostArguments,
            ],
            cts.Token);
        builder.Services.AddLogging(logging => logging.SetMinimumLevel(LogLevel.Warning));
        App = await builder.BuildAsync(cts.Token);
        await App.StartAsync(cts.Token);
    }

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
