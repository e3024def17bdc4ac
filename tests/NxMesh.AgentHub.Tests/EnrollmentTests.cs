using Grpc.Core;
using Microsoft.EntityFrameworkCore;
using NxMesh.Data.Entities;
using NxMesh.Data.Messaging;
using NxMesh.Data.Security;
using NxMesh.Testing;
using Xunit;

namespace NxMesh.AgentHub.Tests;

[Collection(DatabaseCollection.Name)]
public sealed class EnrollmentTests(DatabaseFixture database) : IAsyncLifetime
{
    public Task InitializeAsync() => database.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Valid_token_enrolls_the_pre_created_agent_and_issues_a_credential_stored_hashed()
    {
        var workspaceId = await Seed.WorkspaceAsync(database);
        var (agentId, token) = await Seed.AgentWithTokenAsync(database, workspaceId, new() { ["env"] = "prod", ["region"] = "eu" });
        await using var events = await EventListener.StartAsync(database);
        await using var hub = new HubFactory(database);

        await using var agent = await TestAgent.OpenAsync(hub.Client, null,
            TestAgent.Registration(token, labels: new() { ["env"] = "dev", ["rack"] = "r1" }, hostname: "web-01.internal"));
        var response = await agent.RegistrationAsync();

        Assert.True(response.Success, response.ErrorMessage);
        Assert.Equal(agentId.ToString("D"), response.AgentId);
        Assert.Equal(1, response.HeartbeatIntervalSeconds);
        Assert.StartsWith("nxmesh_cred_", response.AgentCredential, StringComparison.Ordinal);
        Assert.True(response.AgentCredential.Length >= 12 + 43, "≥ 256 random bits");

        await using var db = database.CreateDbContext();
        var row = await db.Agents.SingleAsync(a => a.Id == agentId);
        Assert.Equal(AgentState.Online, row.State);
        Assert.Equal("web-01.internal", row.Hostname);
        Assert.Equal("0.1.0-test", row.Version);
        Assert.Equal(DeploymentMode.Standalone, row.DeploymentMode);
        Assert.Equal(["http2", "ssl"], row.Capabilities);
        Assert.Equal(1, row.ConnectionEpoch);
        Assert.NotNull(row.EnrolledAt);
        // Token labels override what the agent reports; the agent's other labels are kept.
        Assert.Equal(new Dictionary<string, string> { ["env"] = "prod", ["region"] = "eu", ["rack"] = "r1" }, row.Labels);
        Assert.NotNull((await db.RegistrationTokens.SingleAsync()).UsedAt);
        var stored = await db.AgentCredentials.SingleAsync(c => c.AgentId == agentId);
        Assert.Equal(Secrets.Hash(response.AgentCredential), stored.SecretHash);

        var connected = await events.WaitForAsync(FleetEventTypes.AgentConnected, agentId);
        Assert.Equal(workspaceId.ToString("D"), (string?)connected["data"]!["workspace_id"]);
        Assert.Equal("web-01.internal", (string?)connected["data"]!["hostname"]);

        // The credential works for the next connection.
        await agent.DisposeAsync();
        await using var again = await TestAgent.OpenAsync(hub.Client, HubFactory.Credentials(agentId, response.AgentCredential),
            TestAgent.Registration(), agentId: agentId.ToString("D"));
        var second = await again.RegistrationAsync();
        Assert.True(second.Success);
        Assert.Equal("", second.AgentCredential);
    }

    public static TheoryData<string, string> RefusedTokens => new()
    {
        { "expired", "expired" },
        { "used", "already been used" },
        { "revoked", "revoked" },
        { "unknown", "Unknown registration token" },
    };

    [Theory]
    [MemberData(nameof(RefusedTokens))]
    public async Task Refused_tokens_answer_success_false_with_a_clear_message(string kind, string expected)
    {
        var workspaceId = await Seed.WorkspaceAsync(database);
        var (agentId, token) = await Seed.AgentWithTokenAsync(database, workspaceId,
            expiresIn: kind == "expired" ? TimeSpan.FromMinutes(-1) : null, used: kind == "used", revoked: kind == "revoked");
        await using var hub = new HubFactory(database);

        await using var agent = await TestAgent.OpenAsync(hub.Client, null,
            TestAgent.Registration(kind == "unknown" ? Secrets.NewSecret(Secrets.RegistrationTokenPrefix) : token));
        var response = await agent.RegistrationAsync();

        Assert.False(response.Success);
        Assert.Contains(expected, response.ErrorMessage, StringComparison.Ordinal);
        Assert.Equal("", response.AgentCredential);
        Assert.Equal(StatusCode.OK, (await agent.Ended.WaitAsync(TimeSpan.FromSeconds(10))).StatusCode);
        await using var db = database.CreateDbContext();
        Assert.Empty(await db.AgentCredentials.ToListAsync());
        Assert.Equal(AgentState.Offline, (await db.Agents.SingleAsync(a => a.Id == agentId)).State);
    }

    [Fact]
    public async Task A_lost_enrollment_response_is_retried_with_the_same_token_which_revokes_the_lost_credential()
    {
        var workspaceId = await Seed.WorkspaceAsync(database);
        var (agentId, token) = await Seed.AgentWithTokenAsync(database, workspaceId);
        await using var hub = new HubFactory(database);

        string lost;
        await using (var first = await TestAgent.OpenAsync(hub.Client, null, TestAgent.Registration(token)))
        {
            var response = await first.RegistrationAsync();
            Assert.True(response.Success, response.ErrorMessage);
            lost = response.AgentCredential;
        }
        // The agent never stored (never used) that credential: the token is accepted again, for the same agent.
        Protocol.V1.RegistrationResponse again;
        await using (var retry = await TestAgent.OpenAsync(hub.Client, null, TestAgent.Registration(token)))
        {
            again = await retry.RegistrationAsync();
        }
        Assert.True(again.Success, again.ErrorMessage);
        Assert.Equal(agentId.ToString("D"), again.AgentId);
        Assert.StartsWith("nxmesh_cred_", again.AgentCredential, StringComparison.Ordinal);
        Assert.NotEqual(lost, again.AgentCredential);

        await using (var db = database.CreateDbContext())
        {
            var credentials = await db.AgentCredentials.Where(c => c.AgentId == agentId).ToListAsync();
            Assert.Equal(2, credentials.Count);
            Assert.NotNull(credentials.Single(c => c.SecretHash.SequenceEqual(Secrets.Hash(lost))).RevokedAt);
            Assert.Null(credentials.Single(c => c.SecretHash.SequenceEqual(Secrets.Hash(again.AgentCredential))).RevokedAt);
        }
        await using var stale = await TestAgent.OpenAsync(hub.Client, HubFactory.Credentials(agentId, lost), TestAgent.Registration());
        Assert.Equal(StatusCode.Unauthenticated, (await stale.Ended.WaitAsync(TimeSpan.FromSeconds(10))).StatusCode);
        var unary = await Assert.ThrowsAsync<RpcException>(() =>
            hub.Client.ReportHealthAsync(new Protocol.V1.HealthReport(), HubFactory.Credentials(agentId, lost)).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, unary.StatusCode);

        await using var stored = await TestAgent.OpenAsync(hub.Client, HubFactory.Credentials(agentId, again.AgentCredential),
            TestAgent.Registration(), agentId: agentId.ToString("D"));
        Assert.True((await stored.RegistrationAsync()).Success);
    }

    [Fact]
    public async Task Once_the_issued_credential_was_used_the_token_is_refused_as_already_used()
    {
        var workspaceId = await Seed.WorkspaceAsync(database);
        var (agentId, token) = await Seed.AgentWithTokenAsync(database, workspaceId);
        await using var hub = new HubFactory(database);

        string credential;
        await using (var first = await TestAgent.OpenAsync(hub.Client, null, TestAgent.Registration(token)))
        {
            var response = await first.RegistrationAsync();
            Assert.True(response.Success, response.ErrorMessage);
            credential = response.AgentCredential;
        }
        // The first authenticated call proves the agent stored the credential.
        await using (var used = await TestAgent.OpenAsync(hub.Client, HubFactory.Credentials(agentId, credential),
            TestAgent.Registration(), agentId: agentId.ToString("D")))
        {
            Assert.True((await used.RegistrationAsync()).Success);
        }

        await using (var second = await TestAgent.OpenAsync(hub.Client, null, TestAgent.Registration(token)))
        {
            var refused = await second.RegistrationAsync();
            Assert.False(refused.Success);
            Assert.Equal("The registration token has already been used.", refused.ErrorMessage);
            Assert.Equal("", refused.AgentCredential);
        }
        await using (var db = database.CreateDbContext())
        {
            var stored = await db.AgentCredentials.SingleAsync(c => c.AgentId == agentId);
            Assert.Null(stored.RevokedAt);
            Assert.NotNull(stored.FirstUsedAt);
        }
        // The refusal left the stored credential valid.
        await using var again = await TestAgent.OpenAsync(hub.Client, HubFactory.Credentials(agentId, credential),
            TestAgent.Registration(), agentId: agentId.ToString("D"));
        Assert.True((await again.RegistrationAsync()).Success);
    }

    [Fact]
    public async Task A_health_report_on_the_enrolling_stream_proves_the_credential_was_stored_so_the_token_cannot_take_the_agent_over()
    {
        var workspaceId = await Seed.WorkspaceAsync(database);
        var (agentId, token) = await Seed.AgentWithTokenAsync(database, workspaceId);
        await using var hub = new HubFactory(database);

        // The agent enrolls and stays on the stream it enrolled on: its first health report follows the response.
        await using var enrolled = await TestAgent.OpenAsync(hub.Client, null, TestAgent.Registration(token));
        var response = await enrolled.RegistrationAsync();
        Assert.True(response.Success, response.ErrorMessage);
        enrolled.AgentId = agentId.ToString("D");
        await enrolled.ReportHealthAsync("");
        await Wait.UntilAsync(async () =>
        {
            await using var db = database.CreateDbContext();
            return await db.AgentCredentials.AnyAsync(c => c.AgentId == agentId && c.FirstUsedAt != null);
        }, TimeSpan.FromSeconds(10), "the issued credential marked used by the health report");

        // Whoever else holds the token now is refused, and neither revokes the credential nor replaces the stream.
        await using (var thief = await TestAgent.OpenAsync(hub.Client, null, TestAgent.Registration(token)))
        {
            var refused = await thief.RegistrationAsync();
            Assert.False(refused.Success);
            Assert.Equal("The registration token has already been used.", refused.ErrorMessage);
        }
        await using (var db = database.CreateDbContext())
        {
            var stored = await db.AgentCredentials.SingleAsync(c => c.AgentId == agentId);
            Assert.Null(stored.RevokedAt);
        }
        Assert.False(enrolled.Ended.IsCompleted);
        var unary = await hub.Client.ReportHealthAsync(new Protocol.V1.HealthReport(), HubFactory.Credentials(agentId, response.AgentCredential)).ResponseAsync;
        Assert.NotNull(unary);
    }

    [Fact]
    public async Task Forged_missing_or_revoked_credentials_are_unauthenticated()
    {
        var workspaceId = await Seed.WorkspaceAsync(database);
        var (agentId, credential) = await Seed.EnrolledAgentAsync(database, workspaceId);
        await using var hub = new HubFactory(database);

        await using var forged = await TestAgent.OpenAsync(hub.Client, HubFactory.Credentials(agentId, Secrets.NewSecret("nxmesh_cred_")), TestAgent.Registration());
        Assert.Equal(StatusCode.Unauthenticated, (await forged.Ended.WaitAsync(TimeSpan.FromSeconds(10))).StatusCode);

        await using var anonymous = await TestAgent.OpenAsync(hub.Client, null, TestAgent.Registration());
        Assert.Equal(StatusCode.Unauthenticated, (await anonymous.Ended.WaitAsync(TimeSpan.FromSeconds(10))).StatusCode);

        var unary = await Assert.ThrowsAsync<RpcException>(() =>
            hub.Client.ReportHealthAsync(new Protocol.V1.HealthReport(), HubFactory.Credentials(agentId, "nxmesh_cred_wrong")).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, unary.StatusCode);

        await using (var db = database.CreateDbContext())
        {
            await db.AgentCredentials.ExecuteUpdateAsync(s => s.SetProperty(c => c.RevokedAt, DateTimeOffset.UtcNow));
        }
        await using var revoked = await TestAgent.OpenAsync(hub.Client, HubFactory.Credentials(agentId, credential), TestAgent.Registration());
        Assert.Equal(StatusCode.Unauthenticated, (await revoked.Ended.WaitAsync(TimeSpan.FromSeconds(10))).StatusCode);
    }

    [Fact]
    public async Task Deleting_an_agent_closes_its_stream_and_it_cannot_reconnect()
    {
        var workspaceId = await Seed.WorkspaceAsync(database);
        var (agentId, credential) = await Seed.EnrolledAgentAsync(database, workspaceId);
        await using var hub = new HubFactory(database);
        await using var agent = await TestAgent.OpenAsync(hub.Client, HubFactory.Credentials(agentId, credential), TestAgent.Registration(), agentId: agentId.ToString("D"));
        Assert.True((await agent.RegistrationAsync()).Success);

        // What DELETE /agents/{id} does: delete the row and announce it in the same transaction.
        await using (var db = database.CreateDbContext())
        {
            await db.Agents.Where(a => a.Id == agentId).ExecuteDeleteAsync();
        }
        await Seed.OutboxAsync(database, workspaceId, OutboxTypes.AgentDeleted, $$"""{"agent_id":"{{agentId}}"}""");

        await agent.Ended.WaitAsync(TimeSpan.FromSeconds(10));
        await using var again = await TestAgent.OpenAsync(hub.Client, HubFactory.Credentials(agentId, credential), TestAgent.Registration());
        Assert.Equal(StatusCode.Unauthenticated, (await again.Ended.WaitAsync(TimeSpan.FromSeconds(10))).StatusCode);
    }

    [Fact]
    public async Task A_deleted_agent_is_dropped_at_its_next_heartbeat_even_without_a_notification()
    {
        var workspaceId = await Seed.WorkspaceAsync(database);
        var (agentId, credential) = await Seed.EnrolledAgentAsync(database, workspaceId);
        await using var hub = new HubFactory(database);
        await using var agent = await TestAgent.OpenAsync(hub.Client, HubFactory.Credentials(agentId, credential), TestAgent.Registration(), agentId: agentId.ToString("D"));
        Assert.True((await agent.RegistrationAsync()).Success);

        await using (var db = database.CreateDbContext())
        {
            await db.Agents.Where(a => a.Id == agentId).ExecuteDeleteAsync();
        }
        await agent.ReportHealthAsync("");
        await agent.Ended.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Agent_id_in_messages_must_match_the_authenticated_agent()
    {
        var workspaceId = await Seed.WorkspaceAsync(database);
        var (agentId, credential) = await Seed.EnrolledAgentAsync(database, workspaceId);
        await using var hub = new HubFactory(database);
        await using var agent = await TestAgent.OpenAsync(hub.Client, HubFactory.Credentials(agentId, credential), TestAgent.Registration(), agentId: agentId.ToString("D"));
        Assert.True((await agent.RegistrationAsync()).Success);

        agent.AgentId = Guid.NewGuid().ToString("D");
        await agent.ReportHealthAsync("");
        var error = await agent.NextAsync(m => m.Error is not null, what: "error");
        Assert.Equal("AGENT_ID_MISMATCH", error.Error.Code);
        await agent.Ended.WaitAsync(TimeSpan.FromSeconds(10));
    }
}
