using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Aspire.Hosting.Testing;
using NxMesh.AppHost;
using NxMesh.Testing;
using Xunit;

namespace NxMesh.EndToEnd.Tests;

/// <summary>GET /agents/{id} <c>config</c>: desired vs applied config id, in_sync, the last apply's status and error.</summary>
internal sealed record ApplyState(string? DesiredConfigId, string? AppliedConfigId, bool InSync, string? LastApplyStatus, string? LastApplyError);

/// <summary>REST as the bootstrap admin on the seeded organization <c>local</c> and workspace <c>default</c> of the shared fleet.</summary>
internal sealed class FleetSession : IDisposable
{
    private readonly FleetFixture _fleet;

    private FleetSession(FleetFixture fleet, HttpClient http, Guid workspaceId)
    {
        _fleet = fleet;
        Http = http;
        WorkspaceId = workspaceId;
    }

    public HttpClient Http { get; }
    public Guid WorkspaceId { get; }

    public static string UniqueServerName() => $"e2e-{Guid.NewGuid():N}"[..16] + ".nxmesh.test";

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
            return new FleetSession(fleet, http, Guid.Parse((string)workspace["id"]!));
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

    public async Task<ApplyState> ReadApplyStateAsync(Guid agentId)
    {
        var config = (await GetAgentAsync(agentId))["config"]!;
        return new ApplyState((string?)config["desired_config_id"], (string?)config["applied_config_id"], (bool)config["in_sync"]!,
            (string?)config["last_apply_status"], (string?)config["last_apply_error"]);
    }

    /// <summary>Waits until GET /agents/{id} shows the agent in sync with SUCCESS (on a desired config other than <paramref name="previous"/>, if given).</summary>
    public async Task<ApplyState> WaitInSyncAsync(Guid agentId, TimeSpan timeout, string? previous = null)
    {
        ApplyState? state = null;
        await Wait.UntilAsync(async () =>
        {
            state = await ReadApplyStateAsync(agentId);
            return state.InSync && state.LastApplyStatus == "success" && (previous is null || state.DesiredConfigId != previous);
        }, timeout, $"agent {agentId} in sync on GET /agents/{{id}}");
        Assert.Equal(state!.DesiredConfigId, state.AppliedConfigId);
        return state!;
    }

    /// <summary>GET / on replica <paramref name="replica"/>'s nginx with the given Host (port 80 plus the fixture's offset).</summary>
    public async Task<(HttpStatusCode Status, string Body)> GetFromReplicaAsync(int replica, string host)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri($"http://{_fleet.AgentAddressPrefix}{10 + replica}:{80 + _fleet.AgentPortOffset}/"));
        request.Headers.Host = host;
        using var response = await http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
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

    public Task<JsonNode> PostJsonAsync(string path, object body) => SendAsync(Http, HttpMethod.Post, path, body);

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
