using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Xunit;

namespace NxMesh.Api.Tests;

/// <summary>
/// Every string field of the tenancy and fleet endpoints × hostile characters: refused with the envelope (422)
/// or accepted and stored exactly as sent — never a 5xx. Values that reach nginx (global settings) refuse CR, LF
/// and NUL and are otherwise carried as one quoted argument by the nginx library.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class BadInputTests(ApiFixture api) : IAsyncLifetime
{
    private static readonly string Overlong = new('a', 5000);

    public static readonly (string Name, string Value)[] Hostile =
    [
        ("cr", "a\rb"), ("lf", "a\nb"), ("nul", "a\0b"), ("semicolon", "a;b"), ("open_brace", "a{b"), ("close_brace", "a}b"),
        ("double_quote", "a\"b"), ("single_quote", "a'b"), ("hash", "a#b"), ("dollar", "a$b"), ("overlong", Overlong),
    ];

    /// <summary>Which hostile values a field refuses (the rest must be accepted verbatim).</summary>
    private static readonly Dictionary<string, Func<string, bool>> Refuses = new()
    {
        ["organization.name"] = v => v.Any(char.IsControl) || v.Length > 200,
        ["workspace.name"] = v => v.Any(char.IsControl) || v.Length > 200,
        ["agent.name"] = v => v.Any(char.IsControl) || v.Length > 200,
        ["token.name"] = v => v.Any(char.IsControl) || v.Length > 200,
        ["organization.slug"] = _ => true,
        ["workspace.slug"] = _ => true,
        ["agent.label_key"] = _ => true,
        ["agent.label_value"] = _ => true,
        ["token.label_value"] = _ => true,
        ["member.email"] = v => v.Any(char.IsControl) || v.Length > 320 || !v.Contains('@'),
        // The shared nginx library decides for values that reach nginx (its own tests prove accepted ones inert);
        // the Api must refuse exactly what it refuses, so the agent never gets a config its renderer rejects.
        ["settings.nginx_directive_value"] = v => Nginx.Validation.CustomDirectives.Validate(Nginx.Validation.DirectiveContext.Http, "gzip_types", v).Count > 0,
        ["settings.env_var_value"] = v => Nginx.Validation.NginxValidation.EnvVar("X", v).Count > 0,
        ["settings.env_var_name"] = _ => true,
        ["agents.label_selector"] = _ => true,
    };

    public static TheoryData<string> Fields()
    {
        var data = new TheoryData<string>();
        foreach (var field in Refuses.Keys)
        {
            data.Add(field);
        }
        return data;
    }

    public Task InitializeAsync() => api.ResetAsync();
    public Task DisposeAsync() => Task.CompletedTask;

    /// <summary>One field × every hostile value (11 cases per field), on one tenant.</summary>
    [Theory]
    [MemberData(nameof(Fields))]
    public async Task Hostile_values_are_refused_or_stored_verbatim(string field)
    {
        var tenant = await Tenants.CreateAsync(api, "acme");
        var agent = await Tenants.SeedAgentAsync(api, tenant.WorkspaceId, "web-1", []);
        var n = 0;
        foreach (var (hostile, value) in Hostile)
        {
            await CheckAsync(tenant, agent.Id, field, hostile, value, ++n);
        }
    }

    private static async Task CheckAsync(Tenant tenant, Guid agentId, string field, string hostile, string value, int n)
    {
        var slug = $"s{n}";
        var (request, read) = field switch
        {
            "organization.name" => (Post("/v1/organizations", new { name = value, slug }), (Func<JsonElement, string?>)(b => b.GetProperty("name").GetString())),
            "organization.slug" => (Post("/v1/organizations", new { name = "x", slug = value }), b => b.GetProperty("slug").GetString()),
            "workspace.name" => (Post($"/v1/organizations/{tenant.OrganizationId}/workspaces", new { name = value, slug }), b => b.GetProperty("name").GetString()),
            "workspace.slug" => (Post($"/v1/organizations/{tenant.OrganizationId}/workspaces", new { name = "x", slug = value }), b => b.GetProperty("slug").GetString()),
            "agent.name" => (Patch($"/v1/agents/{agentId}", new { name = value }), b => b.GetProperty("name").GetString()),
            "agent.label_key" => (Patch($"/v1/agents/{agentId}", new { labels = new Dictionary<string, string> { [value] = "v" } }), b => b.GetProperty("labels").EnumerateObject().Single().Name),
            "agent.label_value" => (Patch($"/v1/agents/{agentId}", new { labels = new Dictionary<string, string> { ["k"] = value } }), b => b.GetProperty("labels").GetProperty("k").GetString()),
            "token.name" => (Post($"/v1/workspaces/{tenant.WorkspaceId}/agents/tokens", new { name = value }), _ => value),
            "token.label_value" => (Post($"/v1/workspaces/{tenant.WorkspaceId}/agents/tokens", new { name = "x", labels = new Dictionary<string, string> { ["k"] = value } }), _ => value),
            "member.email" => (Post($"/v1/organizations/{tenant.OrganizationId}/members", new { email = value + "@example.com", role = "viewer" }), b => b.GetProperty("email").GetString()),
            "settings.nginx_directive_value" => (Patch($"/v1/workspaces/{tenant.WorkspaceId}/settings", new { global_settings = new { nginx_directives = new Dictionary<string, string> { ["gzip_types"] = value } } }),
                b => b.GetProperty("global_settings").GetProperty("nginx_directives").GetProperty("gzip_types").GetString()),
            "settings.env_var_value" => (Patch($"/v1/workspaces/{tenant.WorkspaceId}/settings", new { global_settings = new { env_vars = new Dictionary<string, string> { ["X"] = value } } }),
                b => b.GetProperty("global_settings").GetProperty("env_vars").GetProperty("X").GetString()),
            "settings.env_var_name" => (Patch($"/v1/workspaces/{tenant.WorkspaceId}/settings", new { global_settings = new { env_vars = new Dictionary<string, string> { [value] = "x" } } }),
                b => b.GetProperty("global_settings").GetProperty("env_vars").EnumerateObject().Single().Name),
            "agents.label_selector" => (new HttpRequestMessage(HttpMethod.Get, $"/v1/workspaces/{tenant.WorkspaceId}/agents?label_selector=k%3D{Uri.EscapeDataString(value)}"), _ => value),
            _ => throw new ArgumentOutOfRangeException(nameof(field)),
        };
        var sent = field == "member.email" ? value + "@example.com" : value;
        var response = await tenant.Owner.SendAsync(request);
        Assert.True((int)response.StatusCode < 500, $"{field} × {hostile}: {(int)response.StatusCode}");
        if (Refuses[field](sent))
        {
            await response.ErrorAsync(HttpStatusCode.UnprocessableEntity, "VALIDATION_ERROR");
        }
        else
        {
            Assert.True(response.IsSuccessStatusCode, $"{field} × {hostile}: expected success, got {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
            Assert.Equal(field == "member.email" ? sent.ToLowerInvariant() : sent, read(body));
        }
    }

    public static TheoryData<string, string> Structural => new()
    {
        { "/v1/organizations", "{\"name\": [], \"slug\": \"x\"}" },
        { "/v1/organizations", "{\"name\": {}, \"slug\": \"x\"}" },
        { "/v1/organizations", "{\"name\": null, \"slug\": \"x\"}" },
        { "/v1/organizations", "{\"name\": \"x\", \"slug\": 1}" },
        { "/v1/organizations", "[]" },
        { "/v1/organizations", "\"x\"" },
        { "/v1/organizations", "null" },
        { "/v1/organizations", "{\"name\": \"x\" \"slug\": \"y\"}" },
        { "/v1/organizations", "{\"name\": \"\\ud800\", \"slug\": \"x\"}" },
        { "/v1/auth/login", "{\"email\": 1, \"password\": \"x\"}" },
        { "/v1/auth/login", "{\"email\": \"a@b.c\", \"password\": true}" },
        { "/v1/auth/refresh", "{\"refresh_token\": 5}" },
        { "/v1/auth/refresh", "{}" },
    };

    [Theory]
    [MemberData(nameof(Structural))]
    public async Task Wrong_types_and_shapes_answer_422(string url, string body)
    {
        var (_, client) = await api.NewUserAsync("a@example.com");
        await (await client.SendRawAsync(HttpMethod.Post, url, body)).ErrorAsync(HttpStatusCode.UnprocessableEntity, "VALIDATION_ERROR");
    }

    public static TheoryData<string> TokenBodies => new()
    {
        "{\"name\": \"x\", \"expires_in_hours\": \"24\"}",
        "{\"name\": \"x\", \"expires_in_hours\": 1.5}",
        "{\"name\": \"x\", \"expires_in_hours\": 99999999999}",
        "{\"name\": \"x\", \"count\": -1}",
        "{\"name\": \"x\", \"labels\": [\"a\"]}",
        "{\"name\": \"x\", \"labels\": {\"a\": 1}}",
        "{\"labels\": {}}",
        "{\"name\": \"\"}",
        "{\"name\": \"   \"}",
    };

    [Theory]
    [MemberData(nameof(TokenBodies))]
    public async Task Token_requests_with_wrong_types_answer_422(string body)
    {
        var tenant = await Tenants.CreateAsync(api, "acme");
        await (await tenant.Owner.SendRawAsync(HttpMethod.Post, $"/v1/workspaces/{tenant.WorkspaceId}/agents/tokens", body)).ErrorAsync(HttpStatusCode.UnprocessableEntity, "VALIDATION_ERROR");
    }

    private static HttpRequestMessage Post(string url, object body) => new(HttpMethod.Post, url) { Content = JsonContent.Create(body) };
    private static HttpRequestMessage Patch(string url, object body) => new(HttpMethod.Patch, url) { Content = JsonContent.Create(body) };
}
