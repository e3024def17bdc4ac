using System.Net;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Microsoft.Extensions.DependencyInjection;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Npgsql;
using NxMesh.AppHost;
using NxMesh.Testing;
using Xunit;

namespace NxMesh.EndToEnd.Tests;

[Collection(FleetCollection.Name)]
public sealed class LocalFleetTests(FleetFixture fleet)
{
    [Fact]
    public async Task Migrator_completes_then_api_agenthub_and_worker_are_healthy()
    {
        using var cts = new CancellationTokenSource(FleetFixture.StartTimeout);
        await fleet.WaitFinishedAsync(ResourceNames.Migrator, cts.Token);
        var migrator = fleet.App.Services.GetRequiredService<ResourceNotificationService>();
        Assert.True(migrator.TryGetCurrentState(ResourceNames.Migrator, out var state));
        Assert.Equal(0, state!.Snapshot.ExitCode);

        await fleet.WaitHealthyAsync(ResourceNames.Api, cts.Token);
        await fleet.WaitHealthyAsync(ResourceNames.AgentHub, cts.Token);
        await fleet.WaitHealthyAsync(ResourceNames.Worker, cts.Token);

        using var api = fleet.App.CreateHttpClient(ResourceNames.Api);
        using var health = await api.GetAsync(new Uri("/health", UriKind.Relative), cts.Token);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal("Healthy", await health.Content.ReadAsStringAsync(cts.Token));
    }

    [Fact]
    public async Task AgentHub_answers_the_standard_grpc_health_check_over_h2c()
    {
        using var cts = new CancellationTokenSource(FleetFixture.StartTimeout);
        await fleet.WaitHealthyAsync(ResourceNames.AgentHub, cts.Token);
        var endpoint = fleet.App.GetEndpoint(ResourceNames.AgentHub, "grpc");
        Assert.Equal("http", endpoint.Scheme);
        using var channel = GrpcChannel.ForAddress(endpoint);
        var reply = await new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest(), cancellationToken: cts.Token);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, reply.Status);
    }

    [Fact]
    public async Task Worker_scheduler_checks_in_to_the_clustered_job_store()
    {
        using var cts = new CancellationTokenSource(FleetFixture.StartTimeout);
        await fleet.WaitHealthyAsync(ResourceNames.Worker, cts.Token);
        var connectionString = await fleet.App.GetConnectionStringAsync(ResourceNames.Database, cts.Token);
        await Wait.UntilAsync(async () =>
        {
            await using var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync(cts.Token);
            await using var command = new NpgsqlCommand("SELECT count(*) FROM qrtz_scheduler_state WHERE sched_name = 'nxmesh'", connection);
            return (long)(await command.ExecuteScalarAsync(cts.Token))! > 0;
        }, TimeSpan.FromSeconds(60), "the worker's cluster check-in");
    }

    [Fact]
    public async Task Migrator_seeds_the_admin_the_local_organization_and_one_agent_per_replica()
    {
        using var cts = new CancellationTokenSource(FleetFixture.StartTimeout);
        await fleet.WaitFinishedAsync(ResourceNames.Migrator, cts.Token);
        var connectionString = await fleet.App.GetConnectionStringAsync(ResourceNames.Database, cts.Token);
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cts.Token);
        await using var command = new NpgsqlCommand("""
            SELECT u.email, m.role, o.slug, w.slug,
                   (SELECT count(*) FROM agents a WHERE a.workspace_id = w.id),
                   (SELECT count(*) FROM registration_tokens t WHERE t.workspace_id = w.id)
            FROM users u JOIN memberships m ON m.user_id = u.id JOIN organizations o ON o.id = m.organization_id
            JOIN workspaces w ON w.organization_id = o.id
            """, connection);
        await using var reader = await command.ExecuteReaderAsync(cts.Token);
        Assert.True(await reader.ReadAsync(cts.Token));
        Assert.Equal(ControlPlaneExtensions.DefaultAdminEmail, reader.GetString(0));
        Assert.Equal("owner", reader.GetString(1));
        Assert.Equal(ControlPlaneExtensions.LocalOrganizationSlug, reader.GetString(2));
        Assert.Equal(ControlPlaneExtensions.LocalWorkspaceSlug, reader.GetString(3));
        Assert.Equal(FleetFixture.Replicas, reader.GetInt64(4));
        Assert.Equal(FleetFixture.Replicas, reader.GetInt64(5));
    }

    [Fact]
    public async Task Every_agent_replica_nginx_answers_on_its_own_loopback_address()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        for (var i = 1; i <= FleetFixture.Replicas; i++)
        {
            var url = new Uri($"http://{fleet.AgentAddressPrefix}{10 + i}:{80 + fleet.AgentPortOffset}/");
            HttpResponseMessage? response = null;
            await Wait.UntilAsync(async () =>
            {
                response?.Dispose();
                response = await http.GetAsync(url);
                return true;
            }, FleetFixture.StartTimeout, $"agent {i}'s nginx at {url}");
            using (response)
            {
                Assert.Equal(HttpStatusCode.NotFound, response!.StatusCode);
                Assert.Equal("nginx", response.Headers.Server.ToString());
            }
        }
    }
}
