using System.Net;
using System.Net.Sockets;
using NxMesh.Agent.Health;
using NxMesh.Agent.Nginx;
using NxMesh.Protocol.V1;
using NxMesh.Testing;

[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace NxMesh.Agent.Tests;

public sealed class ApplyTests
{
    private static readonly ConfigApplyStatus[] Succeeded = [ConfigApplyStatus.Pending, ConfigApplyStatus.Validating, ConfigApplyStatus.Applying, ConfigApplyStatus.Success];

    [Fact]
    public async Task Valid_config_is_applied_and_a_request_reaches_the_loopback_upstream()
    {
        await using var upstream = TestUpstream.Start("app-one");
        await using var agent = await TestAgent.StartAsync();
        var port = Ports.Free();
        var update = TestRenderer.Update(1, (port, upstream.Address));
        await using var probe = BackgroundProbe.Start(new Uri($"http://127.0.0.1:{agent.BasePort}/"), HttpStatusCode.NotFound);
        await Wait.UntilAsync(() => Task.FromResult(probe.Successes > 5), TimeSpan.FromSeconds(10), "the probe to get answers");

        var statuses = await agent.ApplyAsync(update);
        var answered = probe.Successes;
        await Wait.UntilAsync(() => Task.FromResult(probe.Successes > answered + 5), TimeSpan.FromSeconds(10), "answers after the apply");
        var (_, failures) = await probe.StopAsync();

        Assert.Equal(Succeeded, statuses.Select(s => s.Status));
        Assert.All(statuses, s => Assert.Equal((update.ConfigId, 1L), (s.ConfigId, s.Version)));
        Assert.True(statuses[^1].AppliedAt > 0);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        Assert.Equal("app-one", await http.GetStringAsync($"http://127.0.0.1:{port}/hello"));
        Assert.Contains(upstream.Requests, r => r.StartsWith("GET /hello ", StringComparison.Ordinal));
        Assert.Empty(failures);

        var report = await agent.Services.GetRequiredService<HealthCollector>().CollectAsync(CancellationToken.None);
        Assert.Equal((update.ConfigId, 1L), (report.ConfigChecksum, report.ConfigVersion));
        // The last known good is written right after SUCCESS is reported.
        var lastKnownGood = Path.Combine(agent.StateDirectory, "last-known-good.json");
        await Wait.UntilAsync(async () => File.Exists(lastKnownGood) && (await File.ReadAllTextAsync(lastKnownGood)).Contains(update.ConfigId, StringComparison.Ordinal),
            TimeSpan.FromSeconds(10), "the last known good to hold the applied config");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(lastKnownGood));
    }

    [Fact]
    public async Task Config_nginx_rejects_is_FAILED_with_nginx_text_and_the_old_site_keeps_answering()
    {
        await using var upstream = TestUpstream.Start("old-site");
        await using var agent = await TestAgent.StartAsync();
        var port = Ports.Free();
        Assert.Equal(ConfigApplyStatus.Success, (await agent.ApplyAsync(TestRenderer.Update(1, (port, upstream.Address))))[^1].Status);
        var release = agent.ActiveRelease;
        var errorLog = await File.ReadAllTextAsync(agent.ErrorLog);
        await using var probe = BackgroundProbe.Start(new Uri($"http://127.0.0.1:{port}/"));
        await Wait.UntilAsync(() => Task.FromResult(probe.Successes > 5), TimeSpan.FromSeconds(10), "the probe to get answers");

        var bad = TestRenderer.Update(2, (port, upstream.Address), (Ports.Free(), upstream.Address));
        bad.VirtualHosts[1].CustomDirectives["no_such_directive"] = "on";
        bad.ConfigId = TestRenderer.Checksum(bad);
        var statuses = await agent.ApplyAsync(bad);
        var answered = probe.Successes;
        await Wait.UntilAsync(() => Task.FromResult(probe.Successes > answered + 5), TimeSpan.FromSeconds(10), "answers after the apply");
        var (successes, failures) = await probe.StopAsync();

        Assert.Equal([ConfigApplyStatus.Pending, ConfigApplyStatus.Validating, ConfigApplyStatus.Failed], statuses.Select(s => s.Status));
        Assert.Contains("unknown directive \"no_such_directive\"", statuses[^1].ErrorMessage, StringComparison.Ordinal);
        Assert.Contains("test failed", statuses[^1].ErrorMessage, StringComparison.Ordinal);
        Assert.Equal(release, agent.ActiveRelease);
        Assert.Equal(errorLog, await File.ReadAllTextAsync(agent.ErrorLog));
        Assert.Equal(2, Directory.GetDirectories(Path.Combine(agent.Prefix, "conf.releases")).Length);
        Assert.Empty(failures);
        Assert.True(successes > 10, $"only {successes} probe requests");
        Assert.Equal(1, agent.Applier.Current!.Version);
    }

    [Fact]
    public async Task Listen_address_taken_by_another_process_is_ROLLED_BACK_and_the_old_site_keeps_answering()
    {
        await using var upstream = TestUpstream.Start("old-site");
        await using var agent = await TestAgent.StartAsync();
        var port = Ports.Free();
        var good = TestRenderer.Update(1, (port, upstream.Address));
        Assert.Equal(ConfigApplyStatus.Success, (await agent.ApplyAsync(good))[^1].Status);
        var release = agent.ActiveRelease;
        using var squatter = new TcpListener(IPAddress.Loopback, 0);
        squatter.Start();
        var taken = ((IPEndPoint)squatter.LocalEndpoint).Port;
        await using var probe = BackgroundProbe.Start(new Uri($"http://127.0.0.1:{port}/"));
        await Wait.UntilAsync(() => Task.FromResult(probe.Successes > 5), TimeSpan.FromSeconds(10), "the probe to get answers");

        var conflicting = TestRenderer.Update(2, (port, upstream.Address), (taken, upstream.Address));
        var statuses = await agent.ApplyAsync(conflicting);
        var answered = probe.Successes;
        await Wait.UntilAsync(() => Task.FromResult(probe.Successes > answered + 5), TimeSpan.FromSeconds(10), "answers after the apply");
        var (successes, failures) = await probe.StopAsync();

        Assert.Equal([ConfigApplyStatus.Pending, ConfigApplyStatus.Validating, ConfigApplyStatus.Applying, ConfigApplyStatus.RolledBack], statuses.Select(s => s.Status));
        Assert.Contains($"bind() to 127.0.0.1:{taken} failed (98: Address already in use)", statuses[^1].ErrorMessage, StringComparison.Ordinal);
        Assert.Contains("previous config restored and reloaded", statuses[^1].ErrorMessage, StringComparison.Ordinal);
        Assert.Equal(release, agent.ActiveRelease);
        Assert.Equal(good.ConfigId, agent.Applier.Current!.ConfigId);
        Assert.Empty(failures);
        Assert.True(successes > 10, $"only {successes} probe requests");
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        Assert.Equal("old-site", await http.GetStringAsync($"http://127.0.0.1:{port}/"));

        var rolledBack = await agent.EventAsync(LocalFacts.ConfigRolledBack, TimeSpan.FromSeconds(5));
        Assert.Equal(conflicting.ConfigId, rolledBack.Data["config_id"]);
        var report = await agent.Services.GetRequiredService<HealthCollector>().CollectAsync(CancellationToken.None);
        Assert.Contains(report.Alerts, a => a.Severity == "error" && a.Message.Contains("rolled back", StringComparison.Ordinal));
        Assert.Equal(good.ConfigId, report.ConfigChecksum);
    }

    [Fact]
    public async Task Severe_error_log_line_in_the_watch_window_rolls_back_the_same_config()
    {
        await using var upstream = TestUpstream.Start("site");
        await using var agent = await TestAgent.StartAsync(extraFlags: ["--error-log-watch", "5"]);
        var port = Ports.Free();
        var first = TestRenderer.Update(1, (port, upstream.Address));
        Assert.Equal(ConfigApplyStatus.Success, (await agent.ApplyAsync(first))[^1].Status);
        var second = TestRenderer.Update(2, (port, upstream.Address), (Ports.Free(), upstream.Address));
        Assert.Equal(ConfigApplyStatus.Success, (await agent.ApplyAsync(second))[^1].Status);

        // A worker of the new generation dies: nginx itself logs "[alert] ... worker process N exited on signal 9".
        foreach (var worker in agent.Workers())
        {
            Signals.Send(worker, Signals.Kill);
        }
        var statuses = await agent.StatusesUntilTerminalAsync(second.ConfigId, skip: 4, TimeSpan.FromSeconds(15));

        Assert.Equal(ConfigApplyStatus.RolledBack, Assert.Single(statuses).Status);
        Assert.Contains("exited on signal 9", statuses[0].ErrorMessage, StringComparison.Ordinal);
        Assert.Equal(first.ConfigId, agent.Applier.Current!.ConfigId);
        Assert.Contains(first.ConfigId, await File.ReadAllTextAsync(Path.Combine(agent.StateDirectory, "last-known-good.json")), StringComparison.Ordinal);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        await Wait.UntilAsync(async () => await http.GetStringAsync($"http://127.0.0.1:{port}/") == "site", TimeSpan.FromSeconds(10), "the site after rollback");
    }

    [Fact]
    public async Task Updates_arriving_mid_apply_are_coalesced_newest_wins()
    {
        await using var upstream = TestUpstream.Start("site");
        await using var agent = await TestAgent.StartAsync();
        var port = Ports.Free();
        var v1 = TestRenderer.Update(1, (port, upstream.Address));
        var v2 = TestRenderer.Update(2, (port, upstream.Address), (Ports.Free(), upstream.Address));
        var v3 = TestRenderer.Update(3, (port, upstream.Address), (Ports.Free(), upstream.Address));

        using (await agent.Services.GetRequiredService<NginxGate>().EnterAsync(CancellationToken.None))
        {
            agent.Applier.Submit(v1);
            await Wait.UntilAsync(() => Task.FromResult(agent.Statuses(v1.ConfigId).Count > 0), TimeSpan.FromSeconds(10), "v1 PENDING");
            agent.Applier.Submit(v2);
            agent.Applier.Submit(v3);
        }
        await agent.StatusesUntilTerminalAsync(v3.ConfigId);
        var statuses = agent.Messages.Where(m => m.ConfigStatus is not null).Select(m => m.ConfigStatus).ToList();

        Assert.Equal((v1.ConfigId, ConfigApplyStatus.Pending), (statuses[0].ConfigId, statuses[0].Status));
        Assert.DoesNotContain(statuses, s => s.ConfigId == v2.ConfigId);
        Assert.Equal(ConfigApplyStatus.Success, statuses.Last(s => s.ConfigId == v1.ConfigId).Status);
        Assert.Equal(ConfigApplyStatus.Success, statuses[^1].Status);
        Assert.Equal(3, agent.Applier.Current!.Version);
        Assert.Equal(2, agent.Renderer.Renders);
    }

    [Fact]
    public async Task Reapplying_the_applied_config_reports_success_without_a_reload()
    {
        await using var upstream = TestUpstream.Start("site");
        await using var agent = await TestAgent.StartAsync();
        var update = TestRenderer.Update(1, (Ports.Free(), upstream.Address));
        Assert.Equal(ConfigApplyStatus.Success, (await agent.ApplyAsync(update))[^1].Status);
        await Task.Delay(1200);
        var workers = agent.Workers();

        var statuses = await agent.ApplyAsync(update);

        Assert.Equal([ConfigApplyStatus.Pending, ConfigApplyStatus.Success], statuses.Select(s => s.Status));
        Assert.Equal(workers, agent.Workers());
        Assert.Equal(1, agent.Renderer.Renders);
    }
}
