using NxMesh.Agent.Health;
using NxMesh.Agent.Upstreams;
using NxMesh.Protocol.V1;
using NxMesh.Testing;

namespace NxMesh.Agent.Tests;

public sealed class UpstreamProbeTests
{
    [Fact]
    public async Task Servers_are_probed_per_health_check_and_thresholds_decide_their_health()
    {
        var upstream = TestUpstream.Start("healthy");
        var address = upstream.Address;
        await using var agent = await TestAgent.StartAsync();
        var closed = $"127.0.0.1:{Ports.Free()}";
        var update = TestRenderer.Update(1, (Ports.Free(), upstream.Address));
        update.Upstreams.Add(new Upstream
        {
            Id = "api",
            Name = "api",
            Servers = { new UpstreamServer { Address = upstream.Address }, new UpstreamServer { Address = closed } },
            HealthCheck = new HealthCheckConfig { Enabled = true, Path = "/healthz", IntervalSeconds = 1, TimeoutSeconds = 1, HealthyThreshold = 2, UnhealthyThreshold = 2 },
        });
        update.Upstreams.Add(new Upstream { Id = "unchecked", Name = "unchecked", Servers = { new UpstreamServer { Address = closed } } });
        update.ConfigId = TestRenderer.Checksum(update);
        var prober = agent.Services.GetRequiredService<UpstreamProber>();

        Assert.Equal(ConfigApplyStatus.Success, (await agent.ApplyAsync(update))[^1].Status);
        await Wait.UntilAsync(() => Task.FromResult(prober.Snapshot().Count(s => s.Health != ServerHealth.Unknown) == 2), TimeSpan.FromSeconds(10), "both servers judged");

        var snapshot = prober.Snapshot();
        Assert.Equal(2, snapshot.Count);
        Assert.All(snapshot, s => Assert.Equal("api", s.UpstreamId));
        Assert.Equal(ServerHealth.Healthy, snapshot.Single(s => s.Address == upstream.Address).Health);
        Assert.Equal(ServerHealth.Unhealthy, snapshot.Single(s => s.Address == closed).Health);
        Assert.Contains(upstream.Requests, r => r.StartsWith("GET /healthz ", StringComparison.Ordinal));

        await upstream.DisposeAsync();
        await Wait.UntilAsync(() => Task.FromResult(prober.Snapshot().All(s => s.Health == ServerHealth.Unhealthy)), TimeSpan.FromSeconds(10), "the stopped server unhealthy");
        await Wait.UntilAsync(() => Task.FromResult(agent.Messages.Count(m => m.Event?.EventType == LocalFacts.UpstreamServerHealth) >= 3),
            TimeSpan.FromSeconds(5), "health transitions as events");
        var transitions = agent.Messages.Where(m => m.Event?.EventType == LocalFacts.UpstreamServerHealth).Select(m => m.Event.Data).ToList();
        Assert.Contains(transitions, d => d["address"] == address && d["health"] == "unhealthy");

        var withoutChecks = TestRenderer.Update(2, (Ports.Free(), closed));
        Assert.Equal(ConfigApplyStatus.Success, (await agent.ApplyAsync(withoutChecks))[^1].Status);
        await Wait.UntilAsync(() => Task.FromResult(prober.Snapshot().Count == 0), TimeSpan.FromSeconds(5), "probes to stop with the config");
    }
}
