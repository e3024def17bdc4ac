using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Microsoft.Extensions.DependencyInjection;
using NxMesh.AppHost;
using Xunit;

namespace NxMesh.EndToEnd.Tests;

/// <summary>
/// Issue 6 through the real AppHost: after each action, only the /v1/events socket is observed — agent.connected for
/// every agent after their restart, config.applied from every targeted agent after a virtual-host change, and
/// health.alert then health.resolved when a threshold is crossed and restored.
/// </summary>
[Collection(FleetCollection.Name)]
public sealed class EventFeedEndToEndTests(FleetFixture fleet)
{
    private static readonly TimeSpan EventTimeout = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task A_subscriber_sees_agent_connected_for_each_agent_after_the_agents_restart()
    {
        await using var session = await Session.OpenAsync(fleet);
        var agents = await session.OnlineAgentsAsync();
        await session.SubscribeAsync(["agent.connected"]);

        var commands = fleet.App.Services.GetRequiredService<ResourceCommandService>();
        for (var i = 1; i <= FleetFixture.Replicas; i++)
        {
            // DCP's stop of a busy executable sometimes reports failure on a loaded machine (the process is still shutting
            // down); a bounded retry gives it the time, and a replica that never comes back still fails the test.
            ExecuteCommandResult result = new() { Success = false };
            for (var attempt = 1; attempt <= 3 && !result.Success; attempt++)
            {
                if (attempt > 1)
                {
                    await Task.Delay(TimeSpan.FromSeconds(10));
                }
                result = await commands.ExecuteCommandAsync(ResourceNames.Agent(i), KnownResourceCommands.RestartCommand);
            }
            Assert.True(result.Success, result.Message);
        }

        var connected = new HashSet<Guid>();
        await session.ReceiveUntilAsync(e =>
        {
            Assert.Equal("agent.connected", (string?)e["type"]);
            var data = e["data"]!;
            Assert.Equal(session.WorkspaceId.ToString("D"), (string?)data["workspace_id"]);
            Assert.False(string.IsNullOrEmpty((string?)data["hostname"]));
            connected.Add(Guid.Parse((string)data["agent_id"]!));
            return agents.IsSubsetOf(connected);
        }, EventTimeout);
    }

    [Fact]
    public async Task A_virtual_host_change_brings_config_applied_from_each_targeted_agent()
    {
        await using var session = await Session.OpenAsync(fleet);
        var agents = await session.OnlineAgentsAsync();
        await session.SubscribeAsync(["config.*"]);
        var name = $"events-{Guid.NewGuid():N}"[..20] + ".e2e.test";

        var upstream = await session.PostAsync($"/v1/workspaces/{session.WorkspaceId}/upstreams",
            new { name = "events-" + Guid.NewGuid().ToString("N")[..12], servers = new[] { new { address = "127.0.0.1:9" } } });
        var vhost = await session.PostAsync($"/v1/workspaces/{session.WorkspaceId}/virtual-hosts", new
        {
            name,
            server_name = name,
            listen_port = 80,
            locations = new[] { new { path = "/", upstream_id = (string)upstream["id"]! } },
            target_agents = new { type = "all" },
        });

        var applied = new HashSet<Guid>();
        await session.ReceiveUntilAsync(e =>
        {
            if ((string?)e["type"] == "config.applied" && (bool?)e["data"]!["success"] == true)
            {
                Assert.False(string.IsNullOrEmpty((string?)e["data"]!["config_id"]));
                applied.Add(Guid.Parse((string)e["data"]!["agent_id"]!));
            }
            return agents.IsSubsetOf(applied);
        }, EventTimeout);

        await session.DeleteAsync($"/v1/virtual-hosts/{vhost["id"]}");
        await session.DeleteAsync($"/v1/upstreams/{upstream["id"]}");
    }

    [Fact]
    public async Task A_crossed_threshold_brings_health_alert_then_health_resolved_for_each_agent()
    {
        await using var session = await Session.OpenAsync(fleet);
        var agents = await session.OnlineAgentsAsync();
        await session.SubscribeAsync(["health.*"]);
        var rules = $"/v1/workspaces/{session.WorkspaceId}/alert-rules";
        try
        {
            // Memory use is always ≥ 0 %: every agent's next health report crosses this threshold.
            await session.PutAsync(rules, new { rules = new[] { new { metric = "memory_percent", threshold = 0.0, severity = "warning" } } });
            var alerts = new Dictionary<Guid, string>();
            await session.ReceiveUntilAsync(e =>
            {
                var data = e["data"]!;
                Assert.Equal("health.alert", (string?)e["type"]);
                Assert.Equal(("memory_percent", "warning"), ((string?)data["metric"], (string?)data["severity"]));
                Assert.True((double)data["value"]! > 0);
                alerts[Guid.Parse((string)data["agent_id"]!)] = (string)data["alert_id"]!;
                return agents.IsSubsetOf(alerts.Keys);
            }, EventTimeout);

            // Back to the defaults (memory ≥ 90 %): each alert resolves once.
            await session.PutAsync(rules, new { rules = Array.Empty<object>() });
            var resolved = new HashSet<string>();
            await session.ReceiveUntilAsync(e =>
            {
                Assert.Equal("health.resolved", (string?)e["type"]);
                var alertId = (string)e["data"]!["alert_id"]!;
                Assert.Contains(alertId, alerts.Values);
                Assert.True(resolved.Add(alertId), $"{alertId} resolved twice");
                return resolved.SetEquals(alerts.Values);
            }, EventTimeout);
        }
        finally
        {
            await session.PutAsync(rules, new { rules = Array.Empty<object>() });
        }
    }

    /// <summary>The bootstrap admin, the seeded workspace, and one event socket.</summary>
    private sealed class Session : IAsyncDisposable
    {
        private readonly HttpClient _http;
        private readonly ClientWebSocket _socket;

        private Session(HttpClient http, ClientWebSocket socket, Guid workspaceId)
        {
            _http = http;
            _socket = socket;
            WorkspaceId = workspaceId;
        }

        public Guid WorkspaceId { get; }

        public static async Task<Session> OpenAsync(FleetFixture fleet)
        {
            using (var cts = new CancellationTokenSource(FleetFixture.StartTimeout))
            {
                await fleet.WaitHealthyAsync(ResourceNames.Api, cts.Token);
            }
            var http = fleet.App.CreateHttpClient(ResourceNames.Api);
            http.Timeout = TimeSpan.FromSeconds(60);
            var tokens = await SendAsync(http, HttpMethod.Post, "/v1/auth/login",
                new { email = ControlPlaneExtensions.DefaultAdminEmail, password = ControlPlaneExtensions.DefaultAdminPassword });
            var token = (string)tokens["access_token"]!;
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
            var organization = (await SendAsync(http, HttpMethod.Get, "/v1/organizations?per_page=100"))["data"]!.AsArray()
                .Single(o => (string?)o!["slug"] == ControlPlaneExtensions.LocalOrganizationSlug)!;
            var workspace = (await SendAsync(http, HttpMethod.Get, $"/v1/organizations/{organization["id"]}/workspaces?per_page=100"))["data"]!.AsArray()
                .Single(w => (string?)w!["slug"] == ControlPlaneExtensions.LocalWorkspaceSlug)!;
            var socket = new ClientWebSocket();
            var uri = new UriBuilder(http.BaseAddress!) { Scheme = "ws", Path = "/v1/events", Query = "token=" + Uri.EscapeDataString(token) }.Uri;
            using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
            {
                await socket.ConnectAsync(uri, cts.Token);
            }
            return new Session(http, socket, Guid.Parse((string)workspace["id"]!));
        }

        /// <summary>Before any action: the replicas' agent ids, once every replica is connected.</summary>
        public async Task<HashSet<Guid>> OnlineAgentsAsync()
        {
            HashSet<Guid> ids = [];
            await NxMesh.Testing.Wait.UntilAsync(async () =>
            {
                var agents = (await SendAsync(_http, HttpMethod.Get, $"/v1/workspaces/{WorkspaceId}/agents?state=all&per_page=100"))["data"]!.AsArray();
                var replicas = agents.Where(a => a!["labels"]?["replica"] is not null).ToList();
                ids = [.. replicas.Select(a => Guid.Parse((string)a!["id"]!))];
                return replicas.Count == FleetFixture.Replicas && replicas.All(a => (string?)a!["state"] is "online" or "degraded");
            }, TimeSpan.FromSeconds(120), "every replica connected");
            return ids;
        }

        public async Task SubscribeAsync(string[] events)
        {
            await SendTextAsync(JsonSerializer.Serialize(new { action = "subscribe", events, filter = new { workspace_id = WorkspaceId } }));
            var ack = await ReceiveAsync(TimeSpan.FromSeconds(10));
            Assert.Equal("subscribed", (string?)ack["type"]);
        }

        /// <summary>Reads events until <paramref name="done"/> says so; fails after <paramref name="timeout"/>.</summary>
        public async Task ReceiveUntilAsync(Func<JsonNode, bool> done, TimeSpan timeout)
        {
            var deadline = DateTime.UtcNow + timeout;
            while (true)
            {
                var left = deadline - DateTime.UtcNow;
                Assert.True(left > TimeSpan.Zero, "the expected events did not arrive in time");
                if (done(await ReceiveAsync(left)))
                {
                    return;
                }
            }
        }

        private async Task<JsonNode> ReceiveAsync(TimeSpan timeout)
        {
            using var cts = new CancellationTokenSource(timeout);
            var buffer = new byte[64 * 1024];
            using var message = new MemoryStream();
            while (true)
            {
                var result = await _socket.ReceiveAsync(buffer, cts.Token);
                Assert.NotEqual(WebSocketMessageType.Close, result.MessageType);
                message.Write(buffer, 0, result.Count);
                if (result.EndOfMessage)
                {
                    return JsonNode.Parse(message.ToArray())!;
                }
            }
        }

        private async Task SendTextAsync(string text)
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, cts.Token);
        }

        public Task<JsonNode> PostAsync(string path, object body) => SendAsync(_http, HttpMethod.Post, path, body);

        public Task<JsonNode> PutAsync(string path, object body) => SendAsync(_http, HttpMethod.Put, path, body);

        public async Task DeleteAsync(string path)
        {
            using var response = await _http.DeleteAsync(new Uri(path, UriKind.Relative));
            Assert.True(response.IsSuccessStatusCode, $"DELETE {path}: {(int)response.StatusCode}");
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

        public async ValueTask DisposeAsync()
        {
            if (_socket.State == WebSocketState.Open)
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                try
                {
                    await _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "", cts.Token);
                }
                catch (Exception ex) when (ex is OperationCanceledException or WebSocketException)
                {
                }
            }
            _socket.Dispose();
            _http.Dispose();
        }
    }
}
