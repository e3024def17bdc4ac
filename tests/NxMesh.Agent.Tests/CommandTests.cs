using System.Net.Sockets;
using Google.Protobuf;
using NxMesh.Agent.Health;
using NxMesh.Agent.Nginx;
using NxMesh.Protocol.V1;
using NxMesh.Testing;

namespace NxMesh.Agent.Tests;

public sealed class CommandTests
{
    [Fact]
    public async Task Graceful_reload_starts_a_new_worker_generation_without_failed_requests()
    {
        await using var upstream = TestUpstream.Start("site");
        await using var agent = await TestAgent.StartAsync();
        var port = Ports.Free();
        await agent.ApplyAsync(TestRenderer.Update(1, (port, upstream.Address)));
        var master = agent.MasterPid;
        var before = agent.Workers();
        await using var probe = BackgroundProbe.Start(new Uri($"http://127.0.0.1:{port}/"));
        await Wait.UntilAsync(() => Task.FromResult(probe.Successes > 5), TimeSpan.FromSeconds(10), "the probe to get answers");

        var result = await agent.Commands.HandleAsync(new Command { CommandId = "c-1", Reload = new ReloadCommand { Graceful = true } }, CancellationToken.None);
        var answered = probe.Successes;
        await Wait.UntilAsync(() => Task.FromResult(probe.Successes > answered + 5), TimeSpan.FromSeconds(10), "answers after the reload");
        var (successes, failures) = await probe.StopAsync();

        Assert.True(result.Success, result.Message);
        Assert.Equal("c-1", result.CommandId);
        Assert.True(result.CompletedAt > 0);
        Assert.Equal(master, agent.MasterPid);
        Assert.Empty(before.Intersect(agent.Workers()));
        Assert.Empty(failures);
        Assert.True(successes > 0);
    }

    [Fact]
    public async Task Non_graceful_reload_stops_the_old_generation_at_once()
    {
        await using var agent = await TestAgent.StartAsync();
        var before = NginxProcesses.ChildrenOf(agent.MasterPid);

        var result = await agent.Commands.HandleAsync(new Command { CommandId = "c-2", Reload = new ReloadCommand { Graceful = false } }, CancellationToken.None);

        Assert.True(result.Success, result.Message);
        await Wait.UntilAsync(() => Task.FromResult(!before.Any(Signals.IsAlive)), TimeSpan.FromSeconds(5), "the old workers to be gone");
        Assert.NotEmpty(agent.Workers());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Restart_replaces_the_master_and_the_site_comes_back(bool force)
    {
        await using var upstream = TestUpstream.Start("site");
        await using var agent = await TestAgent.StartAsync();
        var port = Ports.Free();
        await agent.ApplyAsync(TestRenderer.Update(1, (port, upstream.Address)));
        var master = agent.MasterPid;

        var result = await agent.Commands.HandleAsync(new Command { CommandId = "c-3", Restart = new RestartCommand { Force = force } }, CancellationToken.None);

        Assert.True(result.Success, result.Message);
        Assert.NotEqual(master, agent.MasterPid);
        Assert.False(Signals.IsAlive(master));
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        Assert.Equal("site", await http.GetStringAsync($"http://127.0.0.1:{port}/"));
    }

    [Fact]
    public async Task Stop_is_graceful_within_its_timeout_and_a_stopped_nginx_stays_stopped()
    {
        await using var agent = await TestAgent.StartAsync();
        var master = agent.MasterPid;

        var result = await agent.Commands.HandleAsync(
            new Command { CommandId = "c-4", Stop = new StopCommand { Graceful = true, TimeoutSeconds = 5 } }, CancellationToken.None);

        Assert.True(result.Success, result.Message);
        Assert.False(Signals.IsAlive(master));
        Assert.Null(agent.Control.MasterPid);
        // Longer than the restart backoff (1 s in tests): the supervisor must not bring it back.
        await Task.Delay(2500);
        Assert.Null(agent.Control.MasterPid);
        await Assert.ThrowsAnyAsync<Exception>(() => new TcpClient().ConnectAsync("127.0.0.1", agent.BasePort));
        var status = await agent.Commands.HandleAsync(new Command { CommandId = "c-5", GetStatus = new GetStatusCommand() }, CancellationToken.None);
        Assert.False(status.Status.Nginx.IsRunning);
        Assert.Contains(status.Status.Alerts, a => a.Id == "nginx-down" && a.Severity == "critical");

        var restart = await agent.Commands.HandleAsync(new Command { CommandId = "c-6", Restart = new RestartCommand() }, CancellationToken.None);
        Assert.True(restart.Success, restart.Message);
        using var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", agent.BasePort);
    }

    [Fact]
    public async Task Get_status_fills_the_health_report()
    {
        await using var upstream = TestUpstream.Start("site");
        await using var agent = await TestAgent.StartAsync();
        var port = Ports.Free();
        var update = TestRenderer.Update(7, (port, upstream.Address));
        await agent.ApplyAsync(update);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        for (var i = 0; i < 5; i++)
        {
            await http.GetStringAsync($"http://127.0.0.1:{port}/");
        }

        var result = await agent.Commands.HandleAsync(new Command { CommandId = "c-7", GetStatus = new GetStatusCommand() }, CancellationToken.None);

        Assert.True(result.Success, result.Message);
        var report = result.Status;
        Assert.True(report.Nginx.IsRunning);
        Assert.Equal((uint)agent.MasterPid, report.Nginx.Pid);
        Assert.True(report.Nginx.ActiveConnections >= 1, "stub_status counts its own connection");
        Assert.True(report.Nginx.TotalRequests >= 5, $"total requests {report.Nginx.TotalRequests}");
        Assert.Equal((update.ConfigId, 7L), (report.ConfigChecksum, report.ConfigVersion));
        Assert.True(report.System.MemoryTotalBytes > report.System.MemoryUsedBytes && report.System.MemoryUsedBytes > 0);
        Assert.True(report.System.DiskTotalBytes > 0 && report.System.DiskUsedBytes > 0);
        Assert.InRange(report.System.CpuPercent, 0, 100);

        await Task.Delay(1100);
        for (var i = 0; i < 10; i++)
        {
            await http.GetStringAsync($"http://127.0.0.1:{port}/");
        }
        var second = await agent.Services.GetRequiredService<HealthCollector>().CollectAsync(CancellationToken.None);
        Assert.True(second.Nginx.RequestsPerSecond > 0, $"requests/s {second.Nginx.RequestsPerSecond}");
    }

    [Fact]
    public async Task Validate_config_checks_the_candidate_in_a_scratch_prefix_and_applies_nothing()
    {
        await using var upstream = TestUpstream.Start("site");
        await using var agent = await TestAgent.StartAsync();
        var release = agent.ActiveRelease;
        var current = agent.Applier.Current;
        var port = Ports.Free();

        var good = TestRenderer.Update(1, (port, upstream.Address));
        var valid = await agent.Commands.HandleAsync(
            new Command { CommandId = "v-1", ValidateConfig = new ValidateConfigCommand { ConfigContent = JsonFormatter.Default.Format(good) } }, CancellationToken.None);
        var bad = TestRenderer.Update(2, (port, upstream.Address));
        bad.VirtualHosts[0].CustomDirectives["proxy_read_timeout"] = "forever";
        var invalid = await agent.Commands.HandleAsync(
            new Command { CommandId = "v-2", ValidateConfig = new ValidateConfigCommand { ConfigContent = JsonFormatter.Default.Format(bad) } }, CancellationToken.None);
        var garbage = await agent.Commands.HandleAsync(
            new Command { CommandId = "v-3", ValidateConfig = new ValidateConfigCommand { ConfigContent = "server { listen 80; }" } }, CancellationToken.None);

        Assert.True(valid.Success, valid.Output);
        Assert.Contains("syntax is ok", valid.Output, StringComparison.Ordinal);
        Assert.Contains("test is successful", valid.Output, StringComparison.Ordinal);
        Assert.False(invalid.Success);
        Assert.Contains("\"proxy_read_timeout\" directive invalid value", invalid.Output, StringComparison.Ordinal);
        Assert.False(garbage.Success);
        Assert.Contains("proto JSON", garbage.Message, StringComparison.Ordinal);
        Assert.Equal(release, agent.ActiveRelease);
        Assert.Same(current, agent.Applier.Current);
        await Assert.ThrowsAnyAsync<Exception>(() => new TcpClient().ConnectAsync("127.0.0.1", port));
        Assert.Empty(Directory.GetDirectories(Path.Combine(agent.StateDirectory, "scratch")));
    }

    [Fact]
    public async Task Reloads_are_spaced_by_the_minimum_interval()
    {
        await using var agent = await TestAgent.StartAsync(extraFlags: ["--min-reload-interval-ms", "3000"]);
        var reload = new Command { CommandId = "r", Reload = new ReloadCommand { Graceful = true } };
        var started = System.Diagnostics.Stopwatch.StartNew();

        var first = await agent.Commands.HandleAsync(reload, CancellationToken.None);
        var firstDone = started.Elapsed;
        var second = await agent.Commands.HandleAsync(reload, CancellationToken.None);

        Assert.True(first.Success && second.Success, first.Message + second.Message);
        Assert.True(firstDone < TimeSpan.FromMilliseconds(2500), $"first reload took {firstDone.TotalMilliseconds} ms");
        // The second HUP waits until 3 s after the first one.
        Assert.True(started.Elapsed >= TimeSpan.FromMilliseconds(2950), $"both reloads in {started.ElapsedMilliseconds} ms");
    }
}
