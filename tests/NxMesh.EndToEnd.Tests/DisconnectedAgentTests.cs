using System.Net;
using System.Text.Json.Nodes;
using Xunit;

namespace NxMesh.EndToEnd.Tests;

/// <summary>
/// Reload through REST of an agent that is not connected, through the real AppHost: the Api asks Redis, no AgentHub
/// holds a stream for it, and the answer is 503 in the spec's error envelope, at once. The agent is one created
/// through REST that never enrolled, so the shared fleet is not disturbed.
/// </summary>
[Collection(FleetCollection.Name)]
public sealed class DisconnectedAgentTests(FleetFixture fleet)
{
    [Fact]
    public async Task Reload_of_an_agent_that_is_not_connected_answers_503_in_the_error_envelope()
    {
        using var session = await FleetSession.OpenAsync(fleet);
        var created = await session.PostJsonAsync($"/v1/workspaces/{session.WorkspaceId}/agents/tokens",
            new { name = "e2e-offline-" + Guid.NewGuid().ToString("N")[..8], labels = new Dictionary<string, string> { ["e2e"] = "offline" }, expires_in_hours = 1 });
        var agentId = Guid.Parse((string)created["agent_id"]!);
        try
        {
            Assert.Equal("offline", (string?)(await session.GetAgentAsync(agentId))["state"]);
            var started = TimeProvider.System.GetTimestamp();
            using var response = await session.Http.PostAsync(new Uri($"/v1/agents/{agentId}/reload", UriKind.Relative), null);
            var elapsed = TimeProvider.System.GetElapsedTime(started);
            var text = await response.Content.ReadAsStringAsync();

            Assert.True(response.StatusCode == HttpStatusCode.ServiceUnavailable, $"{(int)response.StatusCode}: {text}");
            var error = JsonNode.Parse(text)!["error"]!;
            Assert.Equal("SERVICE_UNAVAILABLE", (string?)error["code"]);
            Assert.Contains("not connected", (string)error["message"]!, StringComparison.OrdinalIgnoreCase);
            Assert.False(string.IsNullOrEmpty((string?)error["request_id"]));
            Assert.Equal((string?)error["request_id"], response.Headers.GetValues("X-Request-Id").Single());
            Assert.NotNull(error["details"]?.AsArray());
            // "Not connected" is known at once (no AgentHub subscribes the agent's channel): no command timeout is waited.
            Assert.True(elapsed < TimeSpan.FromSeconds(20), $"the 503 took {elapsed.TotalSeconds:0.0} s");
        }
        finally
        {
            await session.DeleteAsync($"/v1/agents/{agentId}");
        }
    }
}
