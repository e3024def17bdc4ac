using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using NxMesh.Agent.Nginx;
using NxMesh.Agent.Telemetry;
using NxMesh.Protocol.V1;
using NxMesh.Testing;
using WireRecord = NxMesh.Protocol.V1.AccessLogRecord;

namespace NxMesh.Agent.Tests.Telemetry;

/// <summary>
/// Real nginx writing the rendered JSON access log for real requests, the real agent tailing and shipping it to an
/// in-test master that stores each acked batch once per batch_id (as the AgentHub does). Lines are counted by a
/// unique URI per request.
/// </summary>
public sealed partial class TelemetryShippingTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Access_log_lines_survive_rotation_and_truncation_reach_the_master_once_and_metrics_count_them()
    {
        await using var master = await FakeMaster.StartAsync();
        master.Acks = AckAll;
        await using var agent = await StartAgentAsync(master);
        var log = Path.Combine(agent.Prefix, "logs", "access.json");
        var sent = new List<string>();

        await SendAsync(agent, "before", 20, sent);
        await StoredAsync(master, sent);
        File.Move(log, log + ".1");
        await SendAsync(agent, "renamed", 5, sent); // nginx writes into the renamed file until it reopens
        Assert.True(Signals.Send(agent.MasterPid, 10)); // SIGUSR1: reopen the log files, as logrotate's postrotate does
        await Wait.UntilAsync(() => Task.FromResult(File.Exists(log)), Timeout, "nginx to recreate the access log");
        await SendAsync(agent, "reopened", 5, sent);
        await StoredAsync(master, sent);
        using (new FileStream(log, FileMode.Truncate))
        {
        }
        await SendAsync(agent, "truncated", 3, sent);
        var entries = await StoredAsync(master, sent);

        Assert.Equal(sent.Order(), entries.Select(e => e.Uri).Order());
        var tail = agent.Services.GetRequiredService<TelemetryService>().Tail!;
        Assert.Equal((1, 1), (tail.Rotations, tail.Truncations));
        var post = entries.Single(e => e.Uri == "/before-1");
        Assert.Equal("POST", post.Method);
        Assert.Equal("before.example", post.Host);
        Assert.Equal(404, post.Status);
        Assert.Equal("HTTP/1.1", post.Protocol);
        Assert.Equal("127.0.0.1", post.RemoteAddr);
        Assert.Equal("nxmesh-test/1", post.UserAgent);
        Assert.Equal("https://referer.example/", post.Referer);
        Assert.Matches(HexId(), post.RequestId);
        Assert.True(post.RequestLength > 11); // the 11-byte body
        Assert.True(post.BytesSent > post.BodyBytesSent);
        Assert.InRange(post.Timestamp, DateTimeOffset.UtcNow.AddMinutes(-5).ToUnixTimeMilliseconds(), DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());

        // Counters are deltas: their sum over every batch is the total, exactly once per request.
        var bytesOut = entries.Sum(e => e.BytesSent);
        await Wait.UntilAsync(() => Task.FromResult(Sum(master, AccessMetrics.RequestsTotal, "status_class", "4xx") == sent.Count
            && Sum(master, AccessMetrics.ResponseBytesTotal) == bytesOut
            && Sum(master, AccessMetrics.DurationBucket, "le", "+Inf") == sent.Count), Timeout, "metrics that count every request once");
        Assert.Equal(0, Sum(master, AccessMetrics.RequestsTotal, "status_class", "2xx"));
        var names = master.StoredMetrics.Values.SelectMany(b => b.Metrics).Select(m => m.Name).ToHashSet();
        Assert.Superset(new HashSet<string> { IntervalMetrics.ConnectionsActive, IntervalMetrics.NginxUp, "system_cpu_percent", "system_memory_used_bytes", "system_disk_used_bytes", IntervalMetrics.BufferedBytes }, names);
        await Wait.UntilAsync(() => Task.FromResult(Sum(master, IntervalMetrics.RequestsHandled) > 0), Timeout, "a stub_status request delta");
    }

    [Fact]
    public async Task A_restart_sends_the_spooled_batches_again_and_resumes_after_them_without_loss_or_duplicates()
    {
        await using var master = await FakeMaster.StartAsync();
        var sent = new List<string>();
        string stateDirectory;
        await using (var first = await StartAgentAsync(master, keepState: true, "--log-batch-max-lines", "7"))
        {
            stateDirectory = first.StateDirectory;
            await SendAsync(first, "first", 30, sent);
            // Sent, but the master answers nothing: at the stop these are unacked and go to the spool.
            await Wait.UntilAsync(() => Task.FromResult(ReceivedUris(master).IsSupersetOf(sent)), Timeout, "every line sent once, unacked");
        }
        var spool = Path.Combine(stateDirectory, "telemetry", "spool");
        Assert.NotEmpty(Directory.GetFiles(spool));
        var sentBefore = master.Received.Where(m => m.Logs is not null).Select(m => m.Logs.BatchId).ToHashSet();

        master.Acks = AckAll;
        try
        {
            await using var second = await StartAgentAsync(master, keepState: false, stateDirectory: stateDirectory, "--log-batch-max-lines", "7");
            await SendAsync(second, "second", 10, sent);
            var entries = await StoredAsync(master, sent);

            Assert.Equal(sent.Order(), entries.Select(e => e.Uri).Order());
            Assert.Superset(sentBefore, master.StoredLogs.Keys.ToHashSet()); // the same batch ids came back
            await Wait.UntilAsync(() => Task.FromResult(Directory.GetFiles(spool).Length == 0), Timeout, "the spool to empty once acked");
        }
        finally
        {
            if (Directory.Exists(stateDirectory))
            {
                Directory.Delete(stateDirectory, recursive: true);
            }
        }
    }

    [Fact]
    public async Task Batches_are_sent_again_until_acked_across_silence_and_a_dropped_stream_and_stored_once()
    {
        await using var master = await FakeMaster.StartAsync();
        var sightings = new ConcurrentDictionary<string, int>();
        // The first sighting of every batch gets no answer; the next one is acked.
        master.Acks = m =>
        {
            var id = m.Logs?.BatchId ?? m.Metrics.BatchId;
            return sightings.AddOrUpdate(id, 1, (_, n) => n + 1) == 1 ? null : new Ack { MessageId = id, Success = true };
        };
        await using var agent = await StartAgentAsync(master, extraFlags: ["--log-batch-max-lines", "5", "--telemetry-ack-timeout", "2"]);
        var sent = new List<string>();

        await SendAsync(agent, "early", 25, sent);
        await Wait.UntilAsync(() => Task.FromResult(ReceivedUris(master).IsSupersetOf(sent)), Timeout, "the first sightings");
        master.EndStream();
        await SendAsync(agent, "late", 25, sent);
        var entries = await StoredAsync(master, sent);

        Assert.Equal(sent.Order(), entries.Select(e => e.Uri).Order());
        Assert.True(master.CallCount >= 2);
        Assert.All(master.StoredLogs.Keys, id => Assert.True(sightings[id] >= 2));
        var buffer = agent.Services.GetRequiredService<TelemetryBuffer>();
        await Wait.UntilAsync(() => Task.FromResult(buffer.Count == 0 || master.StoredLogs.Count > 0 && buffer.Acked >= master.StoredLogs.Count), Timeout, "the acks to arrive");
        Assert.Empty(buffer.Dropped);
    }

    [Fact]
    public async Task Data_dropped_at_the_memory_bound_is_reported_as_a_metric_and_an_agent_event()
    {
        await using var master = await FakeMaster.StartAsync(); // acks nothing
        await using var agent = await StartAgentAsync(master, extraFlags:
            ["--telemetry-memory-limit", "8000", "--telemetry-spool-limit", "0", "--log-batch-max-lines", "2"]);

        await SendAsync(agent, "flood", 40, []);

        await Wait.UntilAsync(() => Task.FromResult(master.Received.Any(m => m.Event is { EventType: TelemetryService.DroppedEvent } e
            && e.Data["kind"] == TelemetryBuffer.Logs && e.Data["reason"] == TelemetryBuffer.ReasonMemoryFull)), Timeout, "a telemetry.dropped event");
        await Wait.UntilAsync(() => Task.FromResult(master.Received.Where(m => m.Metrics is not null).SelectMany(m => m.Metrics.Metrics)
            .Any(m => m.Name == IntervalMetrics.DroppedItems && m.Labels["kind"] == TelemetryBuffer.Logs && m.Value > 0)), Timeout, "the dropped-items counter");
        Assert.InRange(agent.Services.GetRequiredService<TelemetryBuffer>().MemoryBytes, 1, 8000);
    }

    private static Ack AckAll(AgentMessage message) => new() { MessageId = message.Logs?.BatchId ?? message.Metrics.BatchId, Success = true };

    private static Task<TestAgent> StartAgentAsync(FakeMaster master, bool keepState = false, string? stateDirectory = null, params string[] extraFlags) =>
        TestAgent.StartAsync(stateDirectory: stateDirectory, keepState: keepState, record: false, extraFlags:
        [
            "--master-url", master.Url, "--registration-token", FakeMaster.Token,
            "--metrics-interval", "1", "--log-flush-interval-ms", "200", .. extraFlags,
        ]);

    /// <summary>Requests with a unique path each, mixed methods and hosts; the base config's default server answers 404.</summary>
    private static async Task SendAsync(TestAgent agent, string prefix, int count, List<string> sent)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        for (var i = 0; i < count; i++)
        {
            var uri = $"/{prefix}-{i}";
            var method = (i % 3) switch { 0 => HttpMethod.Get, 1 => HttpMethod.Post, _ => HttpMethod.Head };
            using var request = new HttpRequestMessage(method, $"http://127.0.0.1:{agent.BasePort}{uri}");
            request.Headers.Host = $"{prefix}.example";
            request.Headers.UserAgent.ParseAdd("nxmesh-test/1");
            request.Headers.Referrer = new Uri("https://referer.example/");
            if (method == HttpMethod.Post)
            {
                request.Content = new StringContent("hello=world");
            }
            using var response = await http.SendAsync(request);
            Assert.Equal(System.Net.HttpStatusCode.NotFound, response.StatusCode);
            sent.Add(uri);
        }
    }

    private static async Task<List<WireRecord>> StoredAsync(FakeMaster master, List<string> sent)
    {
        List<WireRecord> entries = [];
        await Wait.UntilAsync(() =>
        {
            entries = [.. master.StoredLogs.Values.SelectMany(b => b.Access)];
            return Task.FromResult(entries.Select(e => e.Uri).ToHashSet().IsSupersetOf(sent));
        }, Timeout, $"{sent.Count} requests stored by the master");
        return entries;
    }

    private static HashSet<string> ReceivedUris(FakeMaster master) =>
        [.. master.Received.Where(m => m.Logs is not null).SelectMany(m => m.Logs.Access).Select(e => e.Uri)];

    private static double Sum(FakeMaster master, string name, string? label = null, string? value = null) =>
        master.StoredMetrics.Values.SelectMany(b => b.Metrics)
            .Where(m => m.Name == name && (label is null || (m.Labels.TryGetValue(label, out var v) && v == value)))
            .Sum(m => m.Value);

    [GeneratedRegex("^[0-9a-f]{32}$")]
    private static partial Regex HexId();
}
