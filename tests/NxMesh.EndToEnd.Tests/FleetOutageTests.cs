using System.Net;
using System.Text.Json.Nodes;
using Aspire.Hosting.ApplicationModel;
using NxMesh.AppHost;
using NxMesh.Testing;
using Xunit;

namespace NxMesh.EndToEnd.Tests;

/// <summary>
/// Issue 5's outage Must-shows through the real AppHost, with Aspire's resource commands stopping and starting
/// resources: the AgentHub goes away (nginx keeps serving, an agent restarted meanwhile serves its last known good
/// config, and after the restart every agent reconnects and is back in sync, including a change made while the hub
/// was down), and a reload of a disconnected agent answers 503. Each test restores the fleet before it ends.
/// </summary>
[Collection(FleetCollection.Name)]
public sealed class FleetOutageTests(FleetFixture fleet)
{
    private static readonly TimeSpan EnrollTimeout = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan ApplyTimeout = TimeSpan.FromSeconds(30);
    // An agent retries with backoff up to 30 s (±20 %), and a restarted process needs its start-up time on top.
    private static readonly TimeSpan ReconnectTimeout = TimeSpan.FromSeconds(120);
    // A stopping service shuts down gracefully (and `dotnet run` waits for it): generous on a loaded machine.
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(150);
    private readonly HashSet<string> _stopped = [];

    [Fact]
    public async Task Without_the_agenthub_nginx_keeps_serving_and_after_its_restart_every_agent_is_back_in_sync()
    {
        using var session = await FleetSession.OpenAsync(fleet);
        var agents = new[] { await session.WaitOnlineAsync(1, EnrollTimeout), await session.WaitOnlineAsync(2, EnrollTimeout) };
        await using var upstream = TestUpstream.Start("e2e-outage-" + Guid.NewGuid().ToString("N")[..8]);
        var upstreamId = await session.CreateUpstreamAsync(upstream.Address);
        var first = FleetSession.UniqueServerName();
        await session.CreateVirtualHostAsync(first, upstreamId, "env=local");
        var before = new List<ApplyState>();
        foreach (var agent in agents)
        {
            before.Add(await session.WaitInSyncAsync(agent, ApplyTimeout));
        }
        await ServedEverywhereAsync(session, first, upstream.Name, ApplyTimeout);

        try
        {
            await StopAsync(ResourceNames.AgentHub);

            // nginx does not depend on the master: both replicas keep answering, over a few seconds.
            for (var i = 0; i < 5; i++)
            {
                foreach (var replica in new[] { 1, 2 })
                {
                    var (status, body) = await session.GetFromReplicaAsync(replica, first);
                    Assert.True(status == HttpStatusCode.OK && body == upstream.Name, $"replica {replica} without the AgentHub: {(int)status} {body}");
                }
                await Task.Delay(500);
            }

            // An agent restarted while there is no master serves its last known good config.
            await StopAsync(ResourceNames.Agent(1));
            await StartAsync(ResourceNames.Agent(1));
            await Wait.UntilAsync(async () => await session.GetFromReplicaAsync(1, first) is (HttpStatusCode.OK, var body) && body == upstream.Name,
                ReconnectTimeout, "restarted replica 1 serving its last known good config without a master");

            // A change while the hub is down: its outbox row waits for the hub to relay it.
            var second = FleetSession.UniqueServerName();
            await session.CreateVirtualHostAsync(second, upstreamId, "env=local");
            await Task.Delay(1000);
            Assert.Equal(HttpStatusCode.NotFound, (await session.GetFromReplicaAsync(2, second)).Status);

            await StartAsync(ResourceNames.AgentHub);
            foreach (var (agent, previous) in agents.Zip(before))
            {
                await session.WaitInSyncAsync(agent, ReconnectTimeout, previous.DesiredConfigId);
                Assert.Equal("online", (string?)(await session.GetAgentAsync(agent))["state"]);
            }
            await ServedEverywhereAsync(session, second, upstream.Name, ApplyTimeout);
            await ServedEverywhereAsync(session, first, upstream.Name, ApplyTimeout);
        }
        finally
        {
            await EnsureRunningAsync(ResourceNames.AgentHub);
            await EnsureRunningAsync(ResourceNames.Agent(1));
        }
    }

    [Fact]
    public async Task Reload_of_a_disconnected_agent_answers_503_and_the_agent_comes_back_in_sync()
    {
        using var session = await FleetSession.OpenAsync(fleet);
        var agent2 = await session.WaitOnlineAsync(2, EnrollTimeout);
        try
        {
            await StopAsync(ResourceNames.Agent(2));
            await Wait.UntilAsync(async () => (string?)(await session.GetAgentAsync(agent2))["state"] == "offline",
                ApplyTimeout, "the stopped replica 2 offline on GET /agents/{id}");

            using var response = await session.Http.PostAsync(new Uri($"/v1/agents/{agent2}/reload", UriKind.Relative), null);
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.ServiceUnavailable, $"{(int)response.StatusCode}: {text}");
            var error = JsonNode.Parse(text)!["error"]!;
            Assert.Equal("SERVICE_UNAVAILABLE", (string?)error["code"]);
            Assert.Contains("not connected", (string)error["message"]!, StringComparison.OrdinalIgnoreCase);
            Assert.False(string.IsNullOrEmpty((string?)error["request_id"]));
            Assert.Equal((string?)error["request_id"], response.Headers.GetValues("X-Request-Id").Single());
            Assert.NotNull(error["details"]?.AsArray());
        }
        finally
        {
            await EnsureRunningAsync(ResourceNames.Agent(2));
        }
        await session.WaitOnlineAsync(2, ReconnectTimeout);
        await session.WaitInSyncAsync(agent2, ReconnectTimeout);
    }

    private static async Task ServedEverywhereAsync(FleetSession session, string host, string expected, TimeSpan timeout)
    {
        foreach (var replica in new[] { 1, 2 })
        {
            await Wait.UntilAsync(async () => await session.GetFromReplicaAsync(replica, host) is (HttpStatusCode.OK, var body) && body == expected,
                timeout, $"replica {replica} serving {host}");
        }
    }

    private async Task StopAsync(string resource)
    {
        using var cts = new CancellationTokenSource(CommandTimeout);
        _stopped.Add(resource);
        var result = await fleet.App.ResourceCommands.ExecuteCommandAsync(resource, KnownResourceCommands.StopCommand, cts.Token);
        // On a loaded machine the command may give up waiting (its own bounded retries) while the process is still
        // shutting down gracefully; the stop was requested either way, so what counts is the resource's state.
        try
        {
            await fleet.App.ResourceNotifications.WaitForResourceAsync(resource, KnownResourceStates.TerminalStates, cts.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"{resource} did not stop within {CommandTimeout.TotalSeconds} s (stop command: {result.Success} {result.Message})");
        }
    }

    private async Task StartAsync(string resource)
    {
        using var cts = new CancellationTokenSource(FleetFixture.StartTimeout);
        var result = await fleet.App.ResourceCommands.ExecuteCommandAsync(resource, KnownResourceCommands.StartCommand, cts.Token);
        Assert.True(result.Success, $"starting {resource}: {result.Message}");
        await fleet.App.ResourceNotifications.WaitForResourceAsync(resource, KnownResourceStates.Running, cts.Token);
        _stopped.Remove(resource);
        if (resource == ResourceNames.AgentHub)
        {
            await fleet.WaitHealthyAsync(resource, cts.Token);
        }
    }

    /// <summary>Restores a resource this test asked to stop and did not start again (a failure in between).</summary>
    private async Task EnsureRunningAsync(string resource)
    {
        if (!_stopped.Contains(resource))
        {
            return;
        }
        using (var cts = new CancellationTokenSource(CommandTimeout))
        {
            // A stop that is still under way must end before the resource can start again.
            await fleet.App.ResourceNotifications.WaitForResourceAsync(resource, KnownResourceStates.TerminalStates, cts.Token);
        }
        await StartAsync(resource);
    }
}
