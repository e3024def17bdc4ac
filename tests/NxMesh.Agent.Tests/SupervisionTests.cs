using NxMesh.Agent.Health;
using NxMesh.Agent.Nginx;
using NxMesh.Protocol.V1;
using NxMesh.Testing;

namespace NxMesh.Agent.Tests;

public sealed class SupervisionTests
{
    [Fact]
    public async Task Killed_supervised_nginx_comes_back_serving_the_same_config()
    {
        await using var upstream = TestUpstream.Start("site");
        await using var agent = await TestAgent.StartAsync();
        var port = Ports.Free();
        await agent.ApplyAsync(TestRenderer.Update(1, (port, upstream.Address)));
        var master = agent.MasterPid;

        Signals.Send(master, Signals.Kill);

        await Wait.UntilAsync(() => Task.FromResult(agent.Control.MasterPid is { } pid && pid != master), TimeSpan.FromSeconds(15), "a new nginx master");
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        await Wait.UntilAsync(async () => await http.GetStringAsync($"http://127.0.0.1:{port}/") == "site", TimeSpan.FromSeconds(15), "the site after the restart");
        Assert.Contains("exit code", (await agent.EventAsync(LocalFacts.NginxDied, TimeSpan.FromSeconds(5))).Data["exit_code"] is { } code ? "exit code " + code : "", StringComparison.Ordinal);
        await agent.EventAsync(LocalFacts.NginxRestarted, TimeSpan.FromSeconds(5));
        var report = await agent.Services.GetRequiredService<HealthCollector>().CollectAsync(CancellationToken.None);
        Assert.True(report.Nginx.IsRunning);
        Assert.Contains(report.Alerts, a => a.Severity == "warning" && a.Message.Contains("restarted", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Agent_restarted_with_no_master_reachable_serves_the_last_known_good_config()
    {
        await using var upstream = TestUpstream.Start("remembered");
        var state = Path.Combine(Path.GetTempPath(), "nxmesh-agent-" + Guid.NewGuid().ToString("N")[..12]);
        var stub = Ports.Free();
        var port = Ports.Free();
        var update = TestRenderer.Update(4, (port, upstream.Address));
        await using (var first = await TestAgent.StartAsync(state, stub, keepState: true))
        {
            Assert.Equal(ConfigApplyStatus.Success, (await first.ApplyAsync(update))[^1].Status);
        }
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => http.GetStringAsync($"http://127.0.0.1:{port}/"));

        // The master URL points at a closed port: the agent keeps retrying while nginx serves what it knew.
        var closed = Ports.Free();
        await using var second = await TestAgent.StartAsync(state, stub, extraFlags: ["--master-url", $"http://127.0.0.1:{closed}", "--registration-token", "t"]);

        Assert.Equal("remembered", await http.GetStringAsync($"http://127.0.0.1:{port}/"));
        Assert.Equal((update.ConfigId, 4L), (second.Applier.Current!.ConfigId, second.Applier.Current.Version));
        Assert.Equal(0, second.Renderer.Renders);
        var report = await second.Services.GetRequiredService<HealthCollector>().CollectAsync(CancellationToken.None);
        Assert.Equal(update.ConfigId, report.ConfigChecksum);
    }

    [Fact]
    public async Task Stored_config_this_nginx_rejects_falls_back_to_the_base_config()
    {
        await using var upstream = TestUpstream.Start("site");
        var state = Path.Combine(Path.GetTempPath(), "nxmesh-agent-" + Guid.NewGuid().ToString("N")[..12]);
        var stub = Ports.Free();
        await using (var first = await TestAgent.StartAsync(state, stub, keepState: true))
        {
            Assert.Equal(ConfigApplyStatus.Success, (await first.ApplyAsync(TestRenderer.Update(1, (Ports.Free(), upstream.Address))))[^1].Status);
        }
        var file = Path.Combine(state, "last-known-good.json");
        var json = System.Text.Json.Nodes.JsonNode.Parse(await File.ReadAllTextAsync(file))!;
        json["mainConfig"] = json["mainConfig"]!.GetValue<string>().Replace("events {", "no_such_directive on;\nevents {", StringComparison.Ordinal);
        await File.WriteAllTextAsync(file, json.ToJsonString());

        await using var second = await TestAgent.StartAsync(state, stub);

        Assert.True(second.Applier.Current!.IsBase);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        using var response = await http.GetAsync($"http://127.0.0.1:{second.BasePort}/");
        Assert.Equal(System.Net.HttpStatusCode.NotFound, response.StatusCode);
    }
}
