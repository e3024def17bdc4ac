using System.Collections.Concurrent;
using System.Diagnostics;
using NxMesh.Agent.Apply;
using NxMesh.Agent.Nginx;
using NxMesh.Protocol.V1;
using NxMesh.Testing;

namespace NxMesh.Agent.Tests;

/// <summary>
/// The apply's stage timings (result, span events) and the early end of the old worker generation: the agent QUITs
/// the old workers as soon as the new ones run instead of waiting for the master's fixed 100 ms, and nginx takes that
/// as a graceful shutdown (no respawn, no alert, no failed request).
/// </summary>
public sealed class ApplyStageTests : IDisposable
{
    private static readonly string[] SuccessStages =
        [ApplyStages.Render, ApplyStages.Write, ApplyStages.Validate, ApplyStages.Swap, ApplyStages.NewWorkers, ApplyStages.OldStopped, ApplyStages.Commit];

    private readonly ConcurrentQueue<Activity> _stopped = new();
    private readonly ActivityListener _listener;

    public ApplyStageTests()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == Microsoft.Extensions.Hosting.Extensions.ActivitySourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = _stopped.Enqueue,
        };
        ActivitySource.AddActivityListener(_listener);
    }

    public void Dispose() => _listener.Dispose();

    [Fact]
    public async Task Each_apply_times_its_stages_and_SUCCESS_finds_only_the_new_generation_accepting()
    {
        await using var upstream = TestUpstream.Start("staged");
        await using var agent = await TestAgent.StartAsync(extraFlags: ["--error-log-watch", "0", "--min-reload-interval-ms", "0"]);
        var port = Ports.Free();
        await using var probe = BackgroundProbe.Start(new Uri($"http://127.0.0.1:{agent.BasePort}/"), System.Net.HttpStatusCode.NotFound);
        await Wait.UntilAsync(() => Task.FromResult(probe.Successes > 5), TimeSpan.FromSeconds(10), "the probe to get answers");
        var errorLogBefore = (await File.ReadAllLinesAsync(agent.ErrorLog)).Length;

        for (var version = 1; version <= 5; version++)
        {
            var before = agent.Workers();
            var update = TestRenderer.Update(version, (port, upstream.Address), (Ports.Free(), upstream.Address));
            var result = await agent.Applier.ApplyAsync(update, CancellationToken.None);

            // At SUCCESS the old generation is gone or shutting down (no longer accepting), the new one runs.
            var after = agent.Workers();
            Assert.Equal(ConfigApplyStatus.Success, result.Status);
            Assert.NotEmpty(after);
            Assert.Empty(after.Intersect(before));
            Assert.Equal(SuccessStages, result.Stages.Select(s => s.Name));
            Assert.All(result.Stages, s => Assert.True(s.Duration >= TimeSpan.Zero, s.Name));
            Assert.True(result.Stages.Sum(s => s.Duration.TotalMilliseconds) <= result.Duration.TotalMilliseconds + 0.001);

            var span = Assert.Single(_stopped, a => a.OperationName == "apply config" && Equals(a.GetTagItem("nxmesh.config_id"), update.ConfigId));
            Assert.Equal(SuccessStages, span.Events.Select(e => e.Name));
            Assert.All(span.Events, e => Assert.IsType<double>(e.Tags.Single(t => t.Key == "nxmesh.duration_ms").Value));
        }

        // The master reaped the workers the agent ended as quitting: it respawned none, and nginx logged nothing severe.
        await Wait.UntilAsync(() => Task.FromResult(NginxProcesses.ChildrenOf(agent.MasterPid).Count(c => !NginxProcesses.IsZombie(c)) == 1),
            TimeSpan.FromSeconds(10), "the old generations to exit");
        await Task.Delay(300);
        Assert.Single(agent.Workers());
        var logged = (await File.ReadAllLinesAsync(agent.ErrorLog)).Skip(errorLogBefore).ToList();
        Assert.Empty(ErrorLogTail.Severe(logged));
        Assert.Empty(await StopProbeAsync(probe));
    }

    [Fact]
    public async Task A_rejected_config_is_timed_up_to_its_validation()
    {
        await using var upstream = TestUpstream.Start("staged");
        await using var agent = await TestAgent.StartAsync(extraFlags: ["--error-log-watch", "0"]);
        var bad = TestRenderer.Update(1, (Ports.Free(), upstream.Address));
        bad.VirtualHosts[0].CustomDirectives["no_such_directive"] = "on";
        bad.ConfigId = TestRenderer.Checksum(bad);

        var result = await agent.Applier.ApplyAsync(bad, CancellationToken.None);

        Assert.Equal(ConfigApplyStatus.Failed, result.Status);
        Assert.Equal([ApplyStages.Render, ApplyStages.Write, ApplyStages.Validate], result.Stages.Select(s => s.Name));
    }

    private static async Task<string[]> StopProbeAsync(BackgroundProbe probe) => (await probe.StopAsync()).Failures;
}
