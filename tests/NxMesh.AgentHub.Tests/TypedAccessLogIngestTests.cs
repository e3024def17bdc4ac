using NxMesh.Protocol.V1;
using NxMesh.Testing;
using Xunit;

namespace NxMesh.AgentHub.Tests;

/// <summary>The typed form of access-log lines (<c>LogBatch.access</c>); the map form is covered by <see cref="TelemetryIngestTests"/>.</summary>
[Collection(DatabaseCollection.Name)]
public sealed class TypedAccessLogIngestTests(DatabaseFixture database) : IAsyncLifetime
{
    public Task InitializeAsync() => database.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Typed_records_are_stored_with_every_field_beside_map_entries_of_the_same_batch_and_rolled_up_once()
    {
        var workspaceId = await Seed.WorkspaceAsync(database);
        var (agentId, credential) = await Seed.EnrolledAgentAsync(database, workspaceId);
        await using var hub = new HubFactory(database);
        await using var agent = await Fleet.ConnectAsync(hub, agentId, credential);
        var at = DateTimeOffset.UtcNow.AddMinutes(-5);
        var vhostId = Guid.NewGuid();
        var batch = TelemetryIngestTests.Logs(at, 1, _ => 404); // one older map-form entry in the same batch
        batch.Access.Add(new AccessLogRecord
        {
            Timestamp = at.ToUnixTimeMilliseconds(),
            RemoteAddr = "192.0.2.7",
            Method = "POST",
            Uri = "/typed?q=1",
            Protocol = "HTTP/2.0",
            Host = "t.example.com",
            Status = 502,
            BodyBytesSent = 123,
            RequestLength = 456,
            BytesSent = 789,
            ResponseTimeMs = 151.5,
            UpstreamResponseTimeMs = 150.25,
            UserAgent = "agent\0/1",
            Referer = "https://ref.example/",
            RequestId = "0123456789abcdef0123456789abcdef",
            VirtualHostId = vhostId.ToString(),
        });
        // No upstream answered, a default server, nginx's "-" for an empty header: stored as NULLs.
        batch.Access.Add(new AccessLogRecord { Timestamp = at.ToUnixTimeMilliseconds(), Method = "GET", Uri = "/bare", Status = 200, Referer = "-", RequestId = "bare" });

        await agent.SendAsync(new AgentMessage { Logs = batch });
        Assert.True((await agent.NextAsync(m => m.Ack?.MessageId == batch.BatchId, what: "logs ack")).Ack.Success);
        await agent.SendAsync(new AgentMessage { Logs = batch });
        Assert.True((await agent.NextAsync(m => m.Ack?.MessageId == batch.BatchId, what: "second ack")).Ack.Success);

        var rows = await database.QueryAsync("""
            SELECT request_id, remote_addr, method, uri, protocol, host, status, body_bytes_sent, request_length, bytes_sent, response_time_ms,
                   upstream_response_time_ms, user_agent, referer, virtual_host_id, agent_id, workspace_id, "timestamp"
            FROM access_log_entries ORDER BY request_id
            """);
        Assert.Equal(["0123456789abcdef0123456789abcdef", "bare", "req-0"], rows.Select(r => (string)r[0]!));
        Assert.Equal(new object?[] { "192.0.2.7", "POST", "/typed?q=1", "HTTP/2.0", "t.example.com", 502, 123L, 456L, 789L, 151.5, 150.25,
            "agent/1", "https://ref.example/", vhostId, agentId, workspaceId }, rows[0][1..17]);
        Assert.All(rows, row => Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(at.ToUnixTimeMilliseconds()).UtcDateTime, (DateTime)row[17]!));
        Assert.Equal(new object?[] { DBNull.Value, "GET", "/bare", DBNull.Value, DBNull.Value, 200, 0L, 0L, 0L, 0.0, DBNull.Value, DBNull.Value, DBNull.Value, DBNull.Value },
            rows[1][1..15]);
        Assert.Equal(("GET", 404), ((string)rows[2][2]!, (int)rows[2][6]!));

        var rollup = Assert.Single(await database.QueryAsync("SELECT requests, status_2xx, status_4xx, status_5xx, bytes_in, bytes_out FROM telemetry_rollups"));
        Assert.Equal(new object?[] { 3L, 1L, 1L, 1L, 456L + 50L, 789L + 300L }, rollup);
    }
}
