using System.Collections.Concurrent;
using System.Diagnostics;
using NxMesh.Data.Messaging;
using NxMesh.Testing;
using StackExchange.Redis;
using Xunit;

namespace NxMesh.AgentHub.Tests;

/// <summary>
/// The propagation chain is split with wall-clock evidence: a relayed change carries its publish and outbox-row
/// creation times, the recompute span says how old the notification was on arrival, and once the streams' writers
/// have sent every push of the run a "config push writes" span in the same trace gives enqueue → dequeued/written
/// percentiles and the first/last write after the notification.
/// </summary>
[Collection(DatabaseCollection.Name)]
public sealed class PushTimingTests(DatabaseFixture database) : IAsyncLifetime
{
    public Task InitializeAsync() => database.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task A_relayed_change_reports_its_age_on_arrival_and_the_writes_of_its_pushes()
    {
        var workspaceId = await Seed.WorkspaceAsync(database);
        var (firstId, firstCredential) = await Seed.EnrolledAgentAsync(database, workspaceId);
        var (secondId, secondCredential) = await Seed.EnrolledAgentAsync(database, workspaceId);
        await using var hub = new HubFactory(database, new() { ["AgentHub:DesiredRefreshSeconds"] = "600" });
        var (first, _) = await Fleet.InSyncAsync(hub, firstId, firstCredential);
        await using var _ = first;
        var (second, _) = await Fleet.InSyncAsync(hub, secondId, secondCredential);
        await using var __ = second;

        var spans = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "NxMesh.AgentHub",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
            ActivityStopped = activity =>
            {
                if ((string?)activity.GetTagItem("nxmesh.workspace_id") == workspaceId.ToString("D"))
                {
                    spans.Enqueue(activity);
                }
            },
        };
        ActivitySource.AddActivityListener(listener);

        await Seed.VirtualHostAsync(database, workspaceId, "timing.example.test");
        await using var redis = await ConnectionMultiplexer.ConnectAsync(database.RedisConnectionString);
        // The row was created 40 ms before this publish, as inside a request that then commits.
        var message = OutboxMessages.RelayMessage(Random.Shared.NextInt64(1_000_000, long.MaxValue / 2), OutboxTypes.WorkspaceConfigChanged,
            workspaceId, "{}", null, DateTimeOffset.UtcNow.AddMilliseconds(-40));
        await redis.GetSubscriber().PublishAsync(RedisChannel.Literal(HubChannels.Outbox), message);
        Assert.Single((await first.ConfigUpdateAsync(TimeSpan.FromSeconds(10))).VirtualHosts);
        Assert.Single((await second.ConfigUpdateAsync(TimeSpan.FromSeconds(10))).VirtualHosts);

        // The agents' own connects ran "resolve desired config" runs earlier; the change's run is the recompute.
        await Wait.UntilAsync(() => Task.FromResult(spans.Any(s => s.OperationName == "recompute workspace config"
                && spans.Any(w => w.OperationName == "config push writes" && w.TraceId == s.TraceId))),
            TimeSpan.FromSeconds(10), "the recompute run and the writes span in its trace");
        var run = Assert.Single(spans, s => s.OperationName == "recompute workspace config");
        var age = Assert.IsType<double>(run.GetTagItem("nxmesh.notification.age_ms"));
        Assert.InRange(age, 0, 10_000);
        Assert.InRange(Assert.IsType<double>(run.GetTagItem("nxmesh.notification.create_to_publish_ms")), 40, 10_000);

        var writes = Assert.Single(spans, s => s.OperationName == "config push writes" && s.TraceId == run.TraceId);
        Assert.Equal(2, writes.GetTagItem("nxmesh.writes.written"));
        Assert.Equal(2, writes.GetTagItem("nxmesh.writes.enqueued"));
        var dequeuedP50 = Assert.IsType<double>(writes.GetTagItem("nxmesh.writes.dequeued_p50_ms"));
        var writtenP50 = Assert.IsType<double>(writes.GetTagItem("nxmesh.writes.written_p50_ms"));
        var writtenP99 = Assert.IsType<double>(writes.GetTagItem("nxmesh.writes.written_p99_ms"));
        var writtenMax = Assert.IsType<double>(writes.GetTagItem("nxmesh.writes.written_max_ms"));
        Assert.True(dequeuedP50 >= 0 && dequeuedP50 <= writtenP50, $"dequeued p50 {dequeuedP50} ms, written p50 {writtenP50} ms");
        Assert.True(writtenP50 <= writtenP99 && writtenP99 <= writtenMax, $"written p50 {writtenP50} / p99 {writtenP99} / max {writtenMax} ms");
        var firstMs = Assert.IsType<double>(writes.GetTagItem("nxmesh.writes.first_ms"));
        var lastMs = Assert.IsType<double>(writes.GetTagItem("nxmesh.writes.last_ms"));
        // Both writes follow the notification's arrival (the origin) and come before the test saw the spans.
        Assert.True(firstMs > 0 && firstMs <= lastMs && lastMs < 10_000, $"first written {firstMs} ms, last {lastMs} ms after the notification");
    }
}
