using System.Diagnostics;
using System.Text.Json.Nodes;
using NxMesh.Data.Messaging;
using Xunit;

namespace NxMesh.Data.Tests;

public sealed class OutboxMessagesTests
{
    [Fact]
    public void Config_changed_rows_carry_the_workspace_the_resource_and_the_current_trace()
    {
        var workspaceId = Guid.NewGuid();
        var certificateId = Guid.NewGuid();
        var at = new DateTimeOffset(2026, 1, 15, 10, 30, 0, TimeSpan.Zero);
        using var activity = new Activity("outbox-test").SetIdFormat(ActivityIdFormat.W3C).Start();

        var message = OutboxMessages.ConfigChanged(workspaceId, "certificate", certificateId, "issued", at);

        Assert.Equal(OutboxTypes.WorkspaceConfigChanged, message.Type);
        Assert.Equal(workspaceId, message.WorkspaceId);
        Assert.Equal(at, message.CreatedAt);
        Assert.Equal(activity.Id, message.TraceParent);
        Assert.Null(message.ProcessedAt);
        var payload = JsonNode.Parse(message.Payload)!.AsObject();
        Assert.Equal(["workspace_id", "resource_type", "resource_id", "action"], payload.Select(p => p.Key));
        Assert.Equal(workspaceId.ToString("D"), (string?)payload["workspace_id"]);
        Assert.Equal("certificate", (string?)payload["resource_type"]);
        Assert.Equal(certificateId.ToString("D"), (string?)payload["resource_id"]);
        Assert.Equal("issued", (string?)payload["action"]);
    }

    [Fact]
    public void Rows_without_a_trace_or_resource_keep_them_empty()
    {
        Activity.Current = null;
        var workspaceId = Guid.NewGuid();

        var changed = OutboxMessages.ConfigChanged(workspaceId, "workspace_settings", null, "update", DateTimeOffset.UnixEpoch);
        var other = OutboxMessages.Create(OutboxTypes.AgentDeleted, null, """{"agent_id":"x"}""", DateTimeOffset.UnixEpoch);

        Assert.Null(changed.TraceParent);
        Assert.Null((string?)JsonNode.Parse(changed.Payload)!["resource_id"]);
        Assert.Equal(OutboxTypes.AgentDeleted, other.Type);
        Assert.Null(other.WorkspaceId);
        Assert.Equal("""{"agent_id":"x"}""", other.Payload);
    }
}
