using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Microsoft.EntityFrameworkCore;
using NxMesh.Data.Messaging;
using NxMesh.Protocol.V1;
using StackExchange.Redis;
using Xunit;

namespace NxMesh.Api.Tests;

/// <summary>
/// restart, stop, status and validate-config through the command path. <see cref="FakeHub"/> stands in for the
/// AgentHub instance holding the agent: it subscribes the agent's command channel in Redis and answers as the hub
/// would (a CommandResult, not_connected, or nothing at all).
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class AgentCommandsTests(ApiFixture api) : IAsyncLifetime
{
    public Task InitializeAsync() => api.ResetAsync();
    public Task DisposeAsync() => Task.CompletedTask;

    private static readonly DateTimeOffset CompletedAt = new(2026, 3, 2, 12, 5, 0, TimeSpan.Zero);

    [Fact]
    public async Task Restart_forwards_force_answers_the_agents_result_and_is_audited()
    {
        var tenant = await Tenants.CreateAsync(api, "acme");
        var agent = await Tenants.SeedAgentAsync(api, tenant.WorkspaceId, "web-1", []);
        await using var hub = await FakeHub.StartAsync(api, agent.Id, c => Result(c, true, "nginx restarted (master 4242)"));

        var body = await (await tenant.Owner.PostAsJsonAsync($"/v1/agents/{agent.Id}/restart", new { force = true })).JsonAsync(HttpStatusCode.OK);
        Assert.True(body.GetProperty("success").GetBoolean());
        Assert.Equal("nginx restarted (master 4242)", body.GetProperty("message").GetString());
        Assert.Equal("2026-03-02T12:05:00Z", body.GetProperty("timestamp").GetString());
        Assert.Equal(["message", "success", "timestamp"], body.EnumerateObject().Select(p => p.Name).Order());
        var command = Assert.Single(hub.Received);
        Assert.Equal(Command.CommandOneofCase.Restart, command.CommandCase);
        Assert.True(command.Restart.Force);
        Assert.False(string.IsNullOrEmpty(command.CommandId));

        // No body: a graceful restart.
        await (await tenant.Owner.PostAsync($"/v1/agents/{agent.Id}/restart", null)).JsonAsync(HttpStatusCode.OK);
        Assert.False(hub.Received.Last().Restart.Force);

        await using var db = api.Database.CreateDbContext();
        var audit = await db.AuditLog.AsNoTracking().Where(a => a.ResourceId == agent.Id && a.Action == "restart").OrderBy(a => a.CreatedAt).ToListAsync();
        Assert.Equal(2, audit.Count);
        Assert.All(audit, a => Assert.Equal("agent", a.ResourceType));
        var after = JsonDocument.Parse(audit[0].After!).RootElement;
        Assert.True(after.GetProperty("requested").GetProperty("force").GetBoolean());
        Assert.True(after.GetProperty("success").GetBoolean());
    }

    [Fact]
    public async Task Stop_forwards_graceful_and_timeout_and_a_failed_stop_answers_success_false()
    {
        var tenant = await Tenants.CreateAsync(api, "acme");
        var agent = await Tenants.SeedAgentAsync(api, tenant.WorkspaceId, "web-1", []);
        await using var hub = await FakeHub.StartAsync(api, agent.Id, c => Result(c, false, "nginx is still running"));

        var body = await (await tenant.Owner.PostAsJsonAsync($"/v1/agents/{agent.Id}/stop", new { graceful = false, timeout_seconds = 5 })).JsonAsync(HttpStatusCode.OK);
        Assert.False(body.GetProperty("success").GetBoolean());
        Assert.Equal("nginx is still running", body.GetProperty("message").GetString());
        var command = Assert.Single(hub.Received);
        Assert.Equal(Command.CommandOneofCase.Stop, command.CommandCase);
        Assert.False(command.Stop.Graceful);
        Assert.Equal(5u, command.Stop.TimeoutSeconds);

        await (await tenant.Owner.PostAsync($"/v1/agents/{agent.Id}/stop", null)).JsonAsync(HttpStatusCode.OK);
        Assert.True(hub.Received.Last().Stop.Graceful);
        Assert.Equal(0u, hub.Received.Last().Stop.TimeoutSeconds);

        await using var db = api.Database.CreateDbContext();
        var audit = await db.AuditLog.AsNoTracking().Where(a => a.ResourceId == agent.Id && a.Action == "stop").ToListAsync();
        Assert.Equal(2, audit.Count);
        Assert.Contains(audit, a => JsonDocument.Parse(a.After!).RootElement.GetProperty("success").GetBoolean() == false);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(301)]
    public async Task Stop_timeout_out_of_range_is_refused_before_anything_is_sent(int seconds)
    {
        var tenant = await Tenants.CreateAsync(api, "acme");
        var agent = await Tenants.SeedAgentAsync(api, tenant.WorkspaceId, "web-1", []);
        await using var hub = await FakeHub.StartAsync(api, agent.Id, c => Result(c, true, "nginx stopped"));
        var error = await (await tenant.Owner.PostAsJsonAsync($"/v1/agents/{agent.Id}/stop", new { timeout_seconds = seconds })).ErrorAsync(HttpStatusCode.UnprocessableEntity, "VALIDATION_ERROR");
        Assert.Contains(("timeout_seconds", "OUT_OF_RANGE"), error.Details());
        Assert.Empty(hub.Received);
    }

    [Fact]
    public async Task Status_answers_the_live_health_report_in_the_shape_of_the_health_block()
    {
        var tenant = await Tenants.CreateAsync(api, "acme");
        var agent = await Tenants.SeedAgentAsync(api, tenant.WorkspaceId, "web-1", []);
        await using var hub = await FakeHub.StartAsync(api, agent.Id, c =>
        {
            var result = Result(c, true, "nginx is running");
            result.Status = new HealthReport
            {
                Nginx = new NginxStatus { IsRunning = true, Pid = 4242, UptimeSeconds = 7200, ActiveConnections = 7, TotalRequests = 1000, RequestsPerSecond = 12.5f },
                System = new SystemMetrics { CpuPercent = 3.5f, MemoryUsedBytes = 256L * 1024 * 1024, LoadAverage1M = 0.5f },
                ConfigChecksum = "abc123",
                ConfigVersion = 9,
            };
            result.Status.Alerts.Add(new Alert { Id = "nginx-restarted", Severity = "warning", Message = "nginx restarted", Timestamp = CompletedAt.ToUnixTimeMilliseconds() });
            return result;
        });

        var viewer = await Tenants.MemberAsync(api, tenant, "viewer");
        var body = await (await viewer.GetAsync($"/v1/agents/{agent.Id}/status")).JsonAsync(HttpStatusCode.OK);
        Assert.True(body.GetProperty("success").GetBoolean());
        Assert.Equal(Command.CommandOneofCase.GetStatus, Assert.Single(hub.Received).CommandCase);
        var status = body.GetProperty("status");
        SpecExamples.AssertShape(SpecExamples.Response("Get Agent").GetProperty("health"), status,
            ["$.config_checksum", "$.total_requests", "$.load_average_1m", "$.alerts"]);
        Assert.Equal("running", status.GetProperty("nginx_status").GetString());
        Assert.Equal(7200, status.GetProperty("nginx_uptime_seconds").GetInt64());
        Assert.Equal(7, status.GetProperty("active_connections").GetInt64());
        Assert.Equal(12.5, status.GetProperty("requests_per_second").GetDouble());
        Assert.Equal(256, status.GetProperty("memory_used_mb").GetInt64());
        Assert.Equal(9, status.GetProperty("config_version").GetInt64());
        Assert.Equal("abc123", status.GetProperty("config_checksum").GetString());
        var alert = Assert.Single(status.GetProperty("alerts").EnumerateArray().ToList());
        Assert.Equal("warning", alert.GetProperty("severity").GetString());
        Assert.Equal("2026-03-02T12:05:00Z", alert.GetProperty("timestamp").GetString());
    }

    [Fact]
    public async Task Validate_config_sends_the_agents_desired_config_and_answers_nginx_output()
    {
        var tenant = await Tenants.CreateAsync(api, "acme");
        var agent = await Tenants.SeedAgentAsync(api, tenant.WorkspaceId, "web-1", new() { ["env"] = "production" });
        var upstream = await (await tenant.Owner.PostAsJsonAsync($"/v1/workspaces/{tenant.WorkspaceId}/upstreams",
            new { name = "backend", servers = new[] { new { address = "127.0.0.1:9001" } } })).JsonAsync(HttpStatusCode.Created);
        await (await tenant.Owner.PostAsJsonAsync($"/v1/workspaces/{tenant.WorkspaceId}/virtual-hosts", new
        {
            name = "site", server_name = "site.example.test", listen_port = 80,
            target_agents = new { type = "selector", label_selector = "env=production" },
            locations = new[] { new { path = "/", upstream_id = upstream.Id() } },
        })).JsonAsync(HttpStatusCode.Created);
        const string NginxOutput = "nginx: the configuration file /tmp/x/conf/nginx.conf syntax is ok\nnginx: configuration file /tmp/x/conf/nginx.conf test is successful";
        await using var hub = await FakeHub.StartAsync(api, agent.Id, c =>
        {
            var result = Result(c, true, "nginx accepts the candidate config");
            result.Output = NginxOutput;
            return result;
        });

        var body = await (await tenant.Owner.PostAsync($"/v1/agents/{agent.Id}/validate-config", null)).JsonAsync(HttpStatusCode.OK);
        Assert.True(body.GetProperty("success").GetBoolean());
        Assert.Equal(NginxOutput, body.GetProperty("output").GetString());
        var command = Assert.Single(hub.Received);
        Assert.Equal(Command.CommandOneofCase.ValidateConfig, command.CommandCase);
        var candidate = JsonParser.Default.Parse<ConfigUpdate>(command.ValidateConfig.ConfigContent);
        Assert.Equal("site.example.test", Assert.Single(candidate.VirtualHosts).ServerName);
        Assert.Equal("127.0.0.1:9001", Assert.Single(Assert.Single(candidate.Upstreams).Servers).Address);
        Assert.Equal(candidate.ConfigId, body.GetProperty("config_id").GetString());
        Assert.Equal(candidate.Version, body.GetProperty("version").GetInt64());
        var detail = await (await tenant.Owner.GetAsync($"/v1/agents/{agent.Id}")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(candidate.ConfigId, detail.GetProperty("config").GetProperty("desired_config_id").GetString());
    }

    [Fact]
    public async Task Validate_config_of_a_failing_candidate_answers_success_false_with_nginx_text()
    {
        var tenant = await Tenants.CreateAsync(api, "acme");
        var agent = await Tenants.SeedAgentAsync(api, tenant.WorkspaceId, "web-1", []);
        await using var hub = await FakeHub.StartAsync(api, agent.Id, c =>
        {
            var result = Result(c, false, "nginx rejects the candidate config");
            result.Output = "nginx: [emerg] host not found in upstream \"nowhere.invalid\"";
            return result;
        });
        var body = await (await tenant.Owner.PostAsync($"/v1/agents/{agent.Id}/validate-config", null)).JsonAsync(HttpStatusCode.OK);
        Assert.False(body.GetProperty("success").GetBoolean());
        Assert.Contains("[emerg]", body.GetProperty("output").GetString(), StringComparison.Ordinal);
    }

    public static TheoryData<string, string> Commands => new()
    {
        { "POST", "restart" }, { "POST", "stop" }, { "GET", "status" }, { "POST", "validate-config" }, { "POST", "reload" },
    };

    [Theory]
    [MemberData(nameof(Commands))]
    public async Task An_agent_no_hub_holds_answers_503_not_connected(string method, string command)
    {
        var tenant = await Tenants.CreateAsync(api, "acme");
        var agent = await Tenants.SeedAgentAsync(api, tenant.WorkspaceId, "web-1", []);
        var error = await (await tenant.Owner.SendAsync(new HttpRequestMessage(new HttpMethod(method), $"/v1/agents/{agent.Id}/{command}")))
            .ErrorAsync(HttpStatusCode.ServiceUnavailable, "SERVICE_UNAVAILABLE");
        Assert.Contains("not connected", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public async Task A_hub_whose_agent_went_away_answers_503_not_connected(string method, string command)
    {
        var tenant = await Tenants.CreateAsync(api, "acme");
        var agent = await Tenants.SeedAgentAsync(api, tenant.WorkspaceId, "web-1", []);
        await using var hub = await FakeHub.StartAsync(api, agent.Id, _ => null, notConnected: true);
        var error = await (await tenant.Owner.SendAsync(new HttpRequestMessage(new HttpMethod(method), $"/v1/agents/{agent.Id}/{command}")))
            .ErrorAsync(HttpStatusCode.ServiceUnavailable, "SERVICE_UNAVAILABLE");
        Assert.Contains("not connected", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Single(hub.Received);
    }

    [Fact]
    public async Task An_agent_that_does_not_answer_in_time_answers_503_saying_so_for_every_command()
    {
        await using var factory = api.CreateFactory(new Dictionary<string, string?> { ["AgentCommands:TimeoutSeconds"] = "1" });
        var tenant = await Tenants.CreateAsync(api, "acme");
        var owner = await ApiFixture.LoginAsync(factory, "owner@acme.example.com");
        var agent = await Tenants.SeedAgentAsync(api, tenant.WorkspaceId, "web-1", []);
        await using var hub = await FakeHub.StartAsync(api, agent.Id, _ => null);
        foreach (var (method, command) in new[] { ("POST", "restart"), ("POST", "stop"), ("GET", "status"), ("POST", "validate-config") })
        {
            var started = System.Diagnostics.Stopwatch.StartNew();
            var error = await (await owner.SendAsync(new HttpRequestMessage(new HttpMethod(method), $"/v1/agents/{agent.Id}/{command}")))
                .ErrorAsync(HttpStatusCode.ServiceUnavailable, "SERVICE_UNAVAILABLE");
            Assert.Contains("did not answer within 1 s", error.GetProperty("message").GetString(), StringComparison.Ordinal);
            Assert.InRange(started.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(15));
        }
        Assert.Equal(4, hub.Received.Count);
        // A stop waits its own timeout on top: the agent answers only once nginx is down.
        var stop = System.Diagnostics.Stopwatch.StartNew();
        var stopError = await (await owner.PostAsJsonAsync($"/v1/agents/{agent.Id}/stop", new { timeout_seconds = 2 })).ErrorAsync(HttpStatusCode.ServiceUnavailable, "SERVICE_UNAVAILABLE");
        Assert.Contains("did not answer within 3 s", stopError.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.True(stop.Elapsed >= TimeSpan.FromSeconds(2.9), $"stop gave up after {stop.Elapsed}");
        // Nothing the agent did not confirm is audited as done.
        await using var db = api.Database.CreateDbContext();
        Assert.False(await db.AuditLog.AnyAsync(a => a.ResourceId == agent.Id));
    }

    [Fact]
    public async Task Editors_may_not_restart_stop_or_validate_and_nothing_reaches_the_agent()
    {
        var tenant = await Tenants.CreateAsync(api, "acme");
        var agent = await Tenants.SeedAgentAsync(api, tenant.WorkspaceId, "web-1", []);
        await using var hub = await FakeHub.StartAsync(api, agent.Id, c => Result(c, true, "done"));
        var editor = await Tenants.MemberAsync(api, tenant, "editor");
        foreach (var command in new[] { "restart", "stop", "validate-config" })
        {
            await (await editor.PostAsync($"/v1/agents/{agent.Id}/{command}", null)).ErrorAsync(HttpStatusCode.Forbidden, "FORBIDDEN");
        }
        Assert.Empty(hub.Received);
        await (await editor.GetAsync($"/v1/agents/{agent.Id}/status")).JsonAsync(HttpStatusCode.OK);
        await (await editor.PostAsync($"/v1/agents/{agent.Id}/reload", null)).JsonAsync(HttpStatusCode.OK);
        Assert.Equal([Command.CommandOneofCase.GetStatus, Command.CommandOneofCase.Reload], hub.Received.Select(c => c.CommandCase));
    }

    private static CommandResult Result(Command command, bool success, string message) => new()
    {
        CommandId = command.CommandId, Success = success, Message = message, CompletedAt = CompletedAt.ToUnixTimeMilliseconds(),
    };

    /// <summary>
    /// The AgentHub's side of the Redis command path (see NxMesh.AgentHub/Commands/CommandRelay): answers each
    /// command with <c>answer</c>'s CommandResult, says not_connected, or (answer returns null) stays silent.
    /// </summary>
    private sealed class FakeHub : IAsyncDisposable
    {
        private readonly ConnectionMultiplexer _redis;
        private readonly ConcurrentQueue<Command> _received = new();

        private FakeHub(ConnectionMultiplexer redis) => _redis = redis;

        public IReadOnlyList<Command> Received => _received.ToList();

        public static async Task<FakeHub> StartAsync(ApiFixture api, Guid agentId, Func<Command, CommandResult?> answer, bool notConnected = false)
        {
            var hub = new FakeHub(await ConnectionMultiplexer.ConnectAsync(api.Database.RedisConnectionString));
            var subscriber = hub._redis.GetSubscriber();
            await subscriber.SubscribeAsync(RedisChannel.Literal(HubChannels.AgentCommands(agentId)), (_, message) =>
            {
                var request = JsonNode.Parse((string)message!)!;
                var command = JsonParser.Default.Parse<Command>((string)request["command"]!);
                hub._received.Enqueue(command);
                var replyTo = RedisChannel.Literal((string)request["reply_to"]!);
                if (notConnected)
                {
                    subscriber.Publish(replyTo, new JsonObject { ["status"] = "not_connected" }.ToJsonString());
                }
                else if (answer(command) is { } result)
                {
                    subscriber.Publish(replyTo, new JsonObject { ["status"] = "result", ["result"] = JsonFormatter.Default.Format(result) }.ToJsonString());
                }
            });
            return hub;
        }

        public async ValueTask DisposeAsync() => await _redis.DisposeAsync();
    }
}
