using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Aspire.Hosting.Testing;
using NxMesh.AppHost;
using NxMesh.Testing;
using Xunit;

namespace NxMesh.EndToEnd.Tests;

/// <summary>
/// Issue 5's first Must-show through the real AppHost: the local fleet enrolls itself, a change made through REST
/// reaches exactly the agents its selector targets and is served by their nginx, a configuration nginx rejects is
/// reported and leaves the previous site serving, and a reload travels REST → Redis → AgentHub → agent and back.
/// </summary>
[Collection(FleetCollection.Name)]
public sealed class FleetPathTests(FleetFixture fleet)
{
    private static readonly TimeSpan EnrollTimeout = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan ApplyTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task The_local_fleet_enrolls_itself_and_every_replica_becomes_online()
    {
        using var session = await FleetSession.OpenAsync(fleet);
        await Wait.UntilAsync(async () =>
        {
            var agents = await session.ListAgentsAsync();
            return agents.Count == FleetFixture.Replicas && agents.All(a => (string?)a["state"] == "online");
        }, EnrollTimeout, "every replica online");

        var listed = await session.ListAgentsAsync();
        Assert.Equal(
            Enumerable.Range(1, FleetFixture.Replicas).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            listed.Select(a => (string)a["labels"]!["replica"]!).Order());
        foreach (var agent in listed)
        {
            Assert.Equal("standalone", (string?)agent["deployment_mode"]);
            Assert.False(string.IsNullOrEmpty((string?)agent["hostname"]));
            Assert.Equal("local", (string?)agent["labels"]!["env"]);
        }
    }

    [Fact]
    public async Task A_virtual_host_for_replica_1_is_served_by_replica_1_only()
    {
        using var session = await FleetSession.OpenAsync(fleet);
        var agent1 = await session.WaitOnlineAsync(1, EnrollTimeout);
        await session.WaitOnlineAsync(2, EnrollTimeout);
        await using var upstream = TestUpstream.Start("e2e-upstream-" + Guid.NewGuid().ToString("N")[..8]);
        var serverName = UniqueServerName();

        var before = await ReadApplyStateAsync(session, agent1);

        var upstreamId = await session.CreateUpstreamAsync(upstream.Address);
        await session.CreateVirtualHostAsync(serverName, upstreamId, "replica=1");

        // SUCCESS of the new desired config on GET /agents/{id} …
        var applied = await WaitInSyncAsync(session, agent1, ApplyTimeout, before.DesiredConfigId);
        Assert.Equal("success", applied.LastApplyStatus);
        // … and nginx answers with the upstream. The agent reports SUCCESS once the new worker generation runs; old
        // workers may still take a connection for a few milliseconds until they handle the master's QUIT, so this
        // is a (short, bounded) wait rather than a single request.
        await Wait.UntilAsync(async () => await GetAsync(1, serverName) is (HttpStatusCode.OK, var body) && body == upstream.Name,
            TimeSpan.FromSeconds(5), $"replica 1 serving {serverName} after SUCCESS");
        Assert.True(upstream.RequestCount > 0);

        var (status, _) = await GetAsync(2, serverName);
        Assert.Equal(HttpStatusCode.NotFound, status);
    }

    [Fact]
    public async Task A_virtual_host_nginx_rejects_is_reported_and_the_previous_site_is_still_served()
    {
        using var session = await FleetSession.OpenAsync(fleet);
        var agent1 = await session.WaitOnlineAsync(1, EnrollTimeout);
        await using var upstream = TestUpstream.Start("e2e-kept-" + Guid.NewGuid().ToString("N")[..8]);
        var goodName = UniqueServerName();
        var goodUpstream = await session.CreateUpstreamAsync(upstream.Address);
        await session.CreateVirtualHostAsync(goodName, goodUpstream, "replica=1");
        await Wait.UntilAsync(async () => await GetAsync(1, goodName) is (HttpStatusCode.OK, var body) && body == upstream.Name,
            ApplyTimeout, $"replica 1 serving {goodName}");
        var good = await WaitInSyncAsync(session, agent1, ApplyTimeout);

        // The Api accepts a hostname upstream; nginx resolves it at load ("host not found in upstream") and refuses.
        var badUpstream = await session.CreateUpstreamAsync("nxmesh-e2e-missing.invalid:80");
        var badHost = await session.CreateVirtualHostAsync(UniqueServerName(), badUpstream, "replica=1");
        try
        {
            ApplyState? failed = null;
            await Wait.UntilAsync(async () =>
            {
                failed = await ReadApplyStateAsync(session, agent1);
                return failed.DesiredConfigId != good.DesiredConfigId && failed.LastApplyStatus is "failed" or "rolled_back";
            }, ApplyTimeout, "GET /agents/{id} showing the rejected configuration");
            Assert.Equal(good.AppliedConfigId, failed!.AppliedConfigId);
            Assert.False(failed.InSync);
            Assert.Contains("host not found", failed.LastApplyError, StringComparison.Ordinal);

            // Visible through the Api: the agent is degraded (its last apply of the desired config failed).
            await Wait.UntilAsync(async () => (string?)(await session.GetAgentAsync(agent1))["state"] == "degraded",
                ApplyTimeout, "replica 1 degraded on GET /agents/{id}");

            var (status, body) = await GetAsync(1, goodName);
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Equal(upstream.Name, body);
        }
        finally
        {
            // Leave the workspace deployable for the other tests in this collection.
            await session.DeleteAsync($"/v1/virtual-hosts/{badHost}");
            await session.DeleteAsync($"/v1/upstreams/{badUpstream}");
        }
        // Removing the rejected host makes the desired content that of the good config again: same config_id, which
        // the agent already runs, so nothing new is applied (last_apply_status stays failed, for the other config).
        await Wait.UntilAsync(async () => await ReadApplyStateAsync(session, agent1) is var s && s.DesiredConfigId == good.DesiredConfigId && s.AppliedConfigId == good.DesiredConfigId && s.InSync,
            ApplyTimeout, "replica 1's desired config back to the good one");
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(1, goodName)).Status);
    }

    [Fact]
    public async Task Reload_through_rest_reaches_the_agent_and_answers_its_result()
    {
        using var session = await FleetSession.OpenAsync(fleet);
        var agent2 = await session.WaitOnlineAsync(2, EnrollTimeout);
        using var response = await session.Http.PostAsync(new Uri($"/v1/agents/{agent2}/reload", UriKind.Relative), null);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {text}");
        var body = JsonNode.Parse(text)!;
        Assert.True((bool)body["success"]!, text);
        Assert.False(string.IsNullOrEmpty((string?)body["message"]));
        Assert.True(DateTimeOffset.UtcNow - DateTimeOffset.Parse((string)body["timestamp"]!, System.Globalization.CultureInfo.InvariantCulture) < TimeSpan.FromMinutes(1));
    }

    private static string UniqueServerName() => $"e2e-{Guid.NewGuid():N}"[..16] + ".nxmesh.test";

    /// <summary>GET / on replica <paramref name="replica"/>'s nginx with the given Host (port 80 plus the fixture's offset).</summary>
    private async Task<(HttpStatusCode Status, string Body)> GetAsync(int replica, string host)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri($"http://{fleet.AgentAddressPrefix}{10 + replica}:{80 + fleet.AgentPortOffset}/"));
        request.Headers.Host = host;
        using var response = await http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private sealed record ApplyState(string? DesiredConfigId, string? AppliedConfigId, bool InSync, string? LastApplyStatus, string? LastApplyError);

    /// <summary>GET /agents/{id} <c>config</c>: desired vs applied config id, in_sync, the last apply's status and error.</summary>
    private static async Task<ApplyState> ReadApplyStateAsync(FleetSession session, Guid agentId)
    {
        var config = (await session.GetAgentAsync(agentId))["config"]!;
        return new ApplyState((string?)config["desired_config_id"], (string?)config["applied_config_id"], (bool)config["in_sync"]!,
            (string?)config["last_apply_status"], (string?)config["last_apply_error"]);
    }

    /// <summary>Waits until GET /agents/{id} shows the agent in sync with SUCCESS (on a desired config other than <paramref name="previous"/>, if given).</summary>
    private static async Task<ApplyState> WaitInSyncAsync(FleetSession session, Guid agentId, TimeSpan timeout, string? previous = null)
    {
        ApplyState? state = null;
        await Wait.UntilAsync(async () =>
        {
            state = await ReadApplyStateAsync(session, agentId);
            return state.InSync && state.LastApplyStatus == "success" && (previous is null || state.DesiredConfigId != previous);
        }, timeout, $"agent {agentId} in sync on GET /agents/{{id}}");
        Assert.Equal(state!.DesiredConfigId, state.AppliedConfigId);
        return state!;
    }

    /// <summary>REST as the bootstrap admin on the seeded organization <c>local</c> and workspace <c>default</c>.</summary>
    private sealed class FleetSession : IDisposable
    {
        private FleetSession(HttpClient http, Guid workspaceId)
        {
            Http = http;
            WorkspaceId = workspaceId;
        }

        public HttpClient Http { get; }
        public Guid WorkspaceId { get; }

        public static async Task<FleetSession> OpenAsync(FleetFixture fleet)
        {
            using (var cts = new CancellationTokenSource(FleetFixture.StartTimeout))
            {
                await fleet.WaitHealthyAsync(ResourceNames.Api, cts.Token);
            }
            var http = fleet.App.CreateHttpClient(ResourceNames.Api);
            http.Timeout = TimeSpan.FromSeconds(60);
            try
            {
                var tokens = await SendAsync(http, HttpMethod.Post, "/v1/auth/login",
                    new { email = ControlPlaneExtensions.DefaultAdminEmail, password = ControlPlaneExtensions.DefaultAdminPassword });
                http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", (string)tokens["access_token"]!);
                var organization = (await SendAsync(http, HttpMethod.Get, "/v1/organizations?per_page=100"))["data"]!.AsArray()
                    .Single(o => (string?)o!["slug"] == ControlPlaneExtensions.LocalOrganizationSlug)!;
                var workspace = (await SendAsync(http, HttpMethod.Get, $"/v1/organizations/{organization["id"]}/workspaces?per_page=100"))["data"]!.AsArray()
                    .Single(w => (string?)w!["slug"] == ControlPlaneExtensions.LocalWorkspaceSlug)!;
                return new FleetSession(http, Guid.Parse((string)workspace["id"]!));
            }
            catch
            {
                http.Dispose();
                throw;
            }
        }

        public async Task<IReadOnlyList<JsonNode>> ListAgentsAsync() =>
            (await SendAsync(Http, HttpMethod.Get, $"/v1/workspaces/{WorkspaceId}/agents?state=all&per_page=100"))["data"]!.AsArray().Select(a => a!).ToList();

        public Task<JsonNode> GetAgentAsync(Guid agentId) => SendAsync(Http, HttpMethod.Get, $"/v1/agents/{agentId}");

        /// <summary>The id of replica <paramref name="replica"/>'s agent once it is online.</summary>
        public async Task<Guid> WaitOnlineAsync(int replica, TimeSpan timeout)
        {
            var label = replica.ToString(System.Globalization.CultureInfo.InvariantCulture);
            Guid? id = null;
            await Wait.UntilAsync(async () =>
            {
                var agent = (await ListAgentsAsync()).SingleOrDefault(a => (string?)a["labels"]?["replica"] == label);
                id = agent is null ? null : Guid.Parse((string)agent["id"]!);
                return agent is not null && (string?)agent["state"] is "online" or "degraded";
            }, timeout, $"replica {replica} connected");
            return id!.Value;
        }

        public async Task<Guid> CreateUpstreamAsync(string address)
        {
            var created = await SendAsync(Http, HttpMethod.Post, $"/v1/workspaces/{WorkspaceId}/upstreams", new
            {
                name = "e2e-" + Guid.NewGuid().ToString("N")[..12],
                servers = new[] { new { address } },
            });
            return Guid.Parse((string)created["id"]!);
        }

        public async Task<Guid> CreateVirtualHostAsync(string serverName, Guid upstreamId, string labelSelector)
        {
            var created = await SendAsync(Http, HttpMethod.Post, $"/v1/workspaces/{WorkspaceId}/virtual-hosts", new
            {
                name = serverName,
                server_name = serverName,
                listen_port = 80,
                locations = new[] { new { path = "/", upstream_id = upstreamId } },
                target_agents = new { type = "selector", label_selector = labelSelector },
            });
            return Guid.Parse((string)created["id"]!);
        }

        public async Task DeleteAsync(string path)
        {
            using var response = await Http.DeleteAsync(new Uri(path, UriKind.Relative));
            Assert.True(response.StatusCode == HttpStatusCode.NoContent, $"DELETE {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }

        private static async Task<JsonNode> SendAsync(HttpClient http, HttpMethod method, string path, object? body = null)
        {
            using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative));
            if (body is not null)
            {
                request.Content = JsonContent.Create(body);
            }
            using var response = await http.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.IsSuccessStatusCode, $"{method} {path}: {(int)response.StatusCode} {text}");
            return JsonNode.Parse(text)!;
        }

        public void Dispose() => Http.Dispose();
    }
}
