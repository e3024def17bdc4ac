using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace NxMesh.AgentSim.Rest;

/// <summary>The few REST calls the benchmark makes, as an operator would (JWT from /v1/auth/login).</summary>
internal sealed class NxMeshApi : IDisposable
{
    private readonly HttpClient _http;

    public NxMeshApi(Uri baseUrl) => _http = new HttpClient { BaseAddress = new Uri(baseUrl, "/v1/"), Timeout = TimeSpan.FromSeconds(120) };

    public string AccessToken { get; private set; } = "";
    public Guid WorkspaceId { get; private set; }

    public async Task LoginAsync(string email, string password)
    {
        var login = await SendAsync(HttpMethod.Post, "auth/login", new JsonObject { ["email"] = email, ["password"] = password });
        AccessToken = login["access_token"]!.GetValue<string>();
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AccessToken);
        var organizations = await SendAsync(HttpMethod.Get, "organizations");
        var organizationId = organizations["data"]![0]!["id"]!.GetValue<string>();
        var workspaces = await SendAsync(HttpMethod.Get, $"organizations/{organizationId}/workspaces");
        WorkspaceId = Guid.Parse(workspaces["data"]![0]!["id"]!.GetValue<string>());
    }

    /// <summary>Registration tokens in bulk: <c>count</c> (≤ 100) per request, a few requests in parallel.</summary>
    public async Task<List<(string Token, Guid AgentId)>> CreateTokensAsync(int total, string namePrefix, IReadOnlyDictionary<string, string> labels,
        Func<int, string> shardLabel)
    {
        var requests = Enumerable.Range(0, (total + 99) / 100).Select(chunk => (Chunk: chunk, Count: Math.Min(100, total - (chunk * 100)))).ToList();
        var results = new (string, Guid)[total];
        await Parallel.ForEachAsync(requests, new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (request, _) =>
        {
            var labelObject = new JsonObject();
            foreach (var (key, value) in labels)
            {
                labelObject[key] = value;
            }
            labelObject["shard"] = shardLabel(request.Chunk);
            var created = await SendAsync(HttpMethod.Post, $"workspaces/{WorkspaceId}/agents/tokens", new JsonObject
            {
                ["name"] = $"{namePrefix}-{request.Chunk:D4}",
                ["labels"] = labelObject,
                ["expires_in_hours"] = 48,
                ["count"] = request.Count,
            });
            var data = created["data"]!.AsArray();
            for (var i = 0; i < data.Count; i++)
            {
                results[(request.Chunk * 100) + i] = (data[i]!["token"]!.GetValue<string>(), Guid.Parse(data[i]!["agent_id"]!.GetValue<string>()));
            }
        });
        return [.. results];
    }

    public async Task<Guid> CreateUpstreamAsync(string name, IEnumerable<string> addresses)
    {
        var created = await SendAsync(HttpMethod.Post, $"workspaces/{WorkspaceId}/upstreams", new JsonObject
        {
            ["name"] = name,
            ["algorithm"] = "round_robin",
            ["servers"] = Servers(addresses),
        });
        return Guid.Parse(created["id"]!.GetValue<string>());
    }

    public Task PatchUpstreamAsync(Guid upstreamId, IEnumerable<string> addresses) =>
        SendAsync(HttpMethod.Patch, $"upstreams/{upstreamId}", new JsonObject { ["servers"] = Servers(addresses) });

    /// <summary>A virtual host proxying to the upstream, for the agents a target selects (null: all).</summary>
    public async Task<Guid> CreateVirtualHostAsync(string name, string serverName, int port, Guid upstreamId, string? labelSelector)
    {
        var created = await SendAsync(HttpMethod.Post, $"workspaces/{WorkspaceId}/virtual-hosts", new JsonObject
        {
            ["name"] = name,
            ["server_name"] = serverName,
            ["listen_port"] = port,
            ["locations"] = new JsonArray(new JsonObject { ["path"] = "/", ["upstream_id"] = upstreamId.ToString() }),
            ["target_agents"] = labelSelector is null
                ? new JsonObject { ["type"] = "all" }
                : new JsonObject { ["type"] = "selector", ["label_selector"] = labelSelector },
        });
        return Guid.Parse(created["id"]!.GetValue<string>());
    }

    public Task<JsonNode> GetAsync(string path) => SendAsync(HttpMethod.Get, path);

    private static JsonArray Servers(IEnumerable<string> addresses) =>
        [.. addresses.Select(a => (JsonNode)new JsonObject { ["address"] = a, ["weight"] = 1 })];

    private async Task<JsonNode> SendAsync(HttpMethod method, string path, JsonNode? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }
        using var response = await _http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"{method} /v1/{path} answered {(int)response.StatusCode}: {text}");
        }
        return text.Length == 0 ? new JsonObject() : JsonNode.Parse(text) ?? throw new JsonException("empty body");
    }

    public void Dispose() => _http.Dispose();
}
