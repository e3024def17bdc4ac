using NxMesh.Agent.Master;
using NxMesh.Protocol.V1;
using NxMesh.Testing;

namespace NxMesh.Agent.Tests;

public sealed class MasterConnectionTests
{
    [Fact]
    public async Task Agent_enrolls_once_then_reconnects_with_its_credential_applies_pushed_config_and_answers_commands()
    {
        await using var master = await FakeMaster.StartAsync();
        master.UnavailableCalls = 1;
        await using var upstream = TestUpstream.Start("pushed");
        await using var agent = await TestAgent.StartAsync(record: false,
            extraFlags: ["--master-url", master.Url, "--registration-token", FakeMaster.Token, "--label", "env=test"]);

        await Wait.UntilAsync(() => Task.FromResult(master.Calls.Count == 1 && master.Received.Any(m => m.Health is not null)), TimeSpan.FromSeconds(15), "enrollment and the first health report");
        var (headers, registration, _) = master.Calls.Single();
        Assert.Null(headers.GetValue("authorization"));
        Assert.Equal(FakeMaster.Token, registration.Token);
        Assert.Equal(DeploymentMode.Standalone, registration.DeploymentMode);
        Assert.Equal("test", registration.Labels["env"]);
        Assert.Contains("ssl", registration.Capabilities);
        var identity = Path.Combine(agent.StateDirectory, "identity.json");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(identity));
        Assert.Contains(master.Credential, await File.ReadAllTextAsync(identity), StringComparison.Ordinal);

        master.EndStream();
        await Wait.UntilAsync(() => Task.FromResult(master.Calls.Count == 2), TimeSpan.FromSeconds(15), "the reconnect");
        var (again, reRegistration, _) = master.Calls.Last();
        Assert.Equal(FakeMaster.AgentId, again.GetValue(MasterConnection.AgentIdHeader));
        Assert.Equal("Bearer " + master.Credential, again.GetValue("authorization"));
        Assert.Equal("", reRegistration.Token);

        var port = Ports.Free();
        var update = TestRenderer.Update(9, (port, upstream.Address));
        master.Push(new MasterMessage { ConfigUpdate = update });
        master.Push(new MasterMessage { Command = new Command { CommandId = "cmd-1", GetStatus = new GetStatusCommand() } });
        await Wait.UntilAsync(() => Task.FromResult(master.Received.Any(m => m.ConfigStatus?.Status == ConfigApplyStatus.Success)), TimeSpan.FromSeconds(15), "SUCCESS over the stream");
        await Wait.UntilAsync(() => Task.FromResult(master.Received.Any(m => m.CommandResult?.CommandId == "cmd-1")), TimeSpan.FromSeconds(15), "the command result");

        var statuses = master.Received.Where(m => m.ConfigStatus is not null).Select(m => m.ConfigStatus.Status).ToList();
        Assert.Equal([ConfigApplyStatus.Pending, ConfigApplyStatus.Validating, ConfigApplyStatus.Applying, ConfigApplyStatus.Success], statuses);
        Assert.All(master.Received, m => Assert.Equal(FakeMaster.AgentId, m.AgentId));
        var result = master.Received.Single(m => m.CommandResult is not null).CommandResult;
        Assert.True(result.Success);
        Assert.True(result.Status.Nginx.IsRunning);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        Assert.Equal("pushed", await http.GetStringAsync($"http://127.0.0.1:{port}/"));
        // Periodic reports (1 s in tests) carry the applied checksum, which lets the master heal drift.
        await Wait.UntilAsync(() => Task.FromResult(master.Received.Count(m => m.Health?.ConfigChecksum == update.ConfigId) >= 2),
            TimeSpan.FromSeconds(10), "periodic health reports with the applied checksum");
    }

    [Fact]
    public async Task Unauthenticated_is_permanent_the_agent_stops_reconnecting_and_nginx_keeps_serving()
    {
        await using var master = await FakeMaster.StartAsync();
        master.RejectAll = true;
        await using var agent = await TestAgent.StartAsync(record: false,
            extraFlags: ["--master-url", master.Url, "--registration-token", FakeMaster.Token]);
        var connection = agent.Services.GetRequiredService<MasterConnection>();

        await Wait.UntilAsync(() => Task.FromResult(connection.PermanentFailure is not null), TimeSpan.FromSeconds(15), "the permanent failure");
        await Task.Delay(2500);

        Assert.Equal(1, master.CallCount);
        Assert.Contains("UNAUTHENTICATED", connection.PermanentFailure, StringComparison.Ordinal);
        Assert.NotNull(agent.Control.MasterPid);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        using var response = await http.GetAsync($"http://127.0.0.1:{agent.BasePort}/");
        Assert.Equal(System.Net.HttpStatusCode.NotFound, response.StatusCode);
    }
}
