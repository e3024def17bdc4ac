using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using NxMesh.Agent.Telemetry;
using NxMesh.Protocol.V1;

namespace NxMesh.Agent.Tests.Telemetry;

public sealed class TelemetryBufferTests : IDisposable
{
    private readonly string _state = Path.Combine(Path.GetTempPath(), "nxmesh-buffer-" + Guid.NewGuid().ToString("N")[..12]);

    public void Dispose()
    {
        if (Directory.Exists(_state))
        {
            Directory.Delete(_state, recursive: true);
        }
    }

    [Fact]
    public void Beyond_the_memory_bound_batches_spill_to_the_spool_and_beyond_its_bound_the_oldest_are_dropped_and_counted()
    {
        var size = Logs(0).CalculateSize();
        var buffer = Create(memory: (2 * size) + 1, spool: (3 * size) + 1);
        var settled = new List<int>();

        for (var i = 0; i < 10; i++)
        {
            var index = i;
            buffer.Add(Logs(i), () => settled.Add(index));
        }

        Assert.Equal(2 * size, buffer.MemoryBytes);
        Assert.Equal(3 * size, buffer.SpoolBytes);
        Assert.Equal(5, buffer.Count);
        var files = Directory.GetFiles(buffer.SpoolDirectory);
        Assert.Equal(3, files.Length);
        Assert.All(files, f => Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(f)));
        Assert.Equal((5L, 50L), buffer.Dropped[(TelemetryBuffer.Logs, TelemetryBuffer.ReasonSpoolFull)]);
        // Spooled (durable) and dropped batches are settled, so the tail may commit past them; memory-only ones are not.
        Assert.Equal(Enumerable.Range(2, 8), settled.Order());
        Assert.Equal(["batch-0", "batch-1", "batch-7", "batch-8", "batch-9"], TakeAll(buffer).Select(m => m.Logs.Entries[0].Message));
    }

    [Fact]
    public void Without_a_spool_the_oldest_batches_in_memory_give_way()
    {
        var size = Logs(0).CalculateSize();
        var buffer = Create(memory: (2 * size) + 1, spool: 0);

        for (var i = 0; i < 5; i++)
        {
            buffer.Add(Logs(i), null);
        }

        Assert.Equal((3L, 30L), buffer.Dropped[(TelemetryBuffer.Logs, TelemetryBuffer.ReasonMemoryFull)]);
        Assert.Equal(["batch-3", "batch-4"], TakeAll(buffer).Select(m => m.Logs.Entries[0].Message));
    }

    [Fact]
    public void Drops_become_counter_deltas_and_are_reported_once()
    {
        var size = Logs(0).CalculateSize();
        var buffer = Create(memory: size + 1, spool: 0);
        using var interval = new IntervalMetrics(_state, 1);
        for (var i = 0; i < 3; i++)
        {
            buffer.Add(Logs(i), null);
        }

        var first = interval.SampleBuffer(buffer, 5, out var drops);
        var second = interval.SampleBuffer(buffer, 6, out var none);

        Assert.Equal([(TelemetryBuffer.Logs, TelemetryBuffer.ReasonMemoryFull, 2L, 20L)], drops);
        var batches = first.Single(m => m.Name == IntervalMetrics.DroppedBatches);
        Assert.Equal((2.0, MetricType.Counter, "logs", "memory_full"), (batches.Value, batches.Type, batches.Labels["kind"], batches.Labels["reason"]));
        Assert.Equal(20, first.Single(m => m.Name == IntervalMetrics.DroppedItems).Value);
        Assert.Equal(size, first.Single(m => m.Name == IntervalMetrics.BufferedBytes && m.Labels["location"] == "memory").Value);
        Assert.Empty(none);
        Assert.DoesNotContain(second, m => m.Name == IntervalMetrics.DroppedBatches);
    }

    [Fact]
    public void A_graceful_stop_spools_unacked_batches_and_the_next_start_sends_them_with_the_same_ids()
    {
        var first = Create();
        var batches = Enumerable.Range(0, 3).Select(Logs).ToList();
        batches.ForEach(b => first.Add(b, null));
        first.Add(new MetricsBatch { BatchId = Guid.NewGuid().ToString(), Metrics = { new Metric { Name = "m", Value = 1 } } });
        first.Acknowledge(new Ack { MessageId = batches[1].BatchId, Success = true });

        first.SpillAll();
        var second = Create();
        var sent = TakeAll(second);

        Assert.Equal(0, first.MemoryBytes);
        Assert.Equal([batches[0].BatchId, batches[2].BatchId], sent.Where(m => m.Logs is not null).Select(m => m.Logs.BatchId));
        Assert.Equal(batches[2], sent[1].Logs);
        Assert.Single(sent, m => m.Metrics is not null);
        second.Acknowledge(new Ack { MessageId = batches[0].BatchId, Success = true });
        Assert.Equal(2, Directory.GetFiles(second.SpoolDirectory).Length);
    }

    [Fact]
    public async Task A_window_of_batches_is_in_flight_nacks_wait_and_unanswered_batches_are_sent_again()
    {
        var buffer = Create(ackTimeoutSeconds: 1);
        var ids = Enumerable.Range(0, TelemetryBuffer.Window + 8).Select(_ => Guid.NewGuid().ToString()).ToList();
        ids.ForEach(id => buffer.Add(new MetricsBatch { BatchId = id, Metrics = { new Metric { Name = "m" } } }));

        var first = TakeAll(buffer);
        Assert.Equal(ids.Take(TelemetryBuffer.Window), first.Select(m => m.Metrics.BatchId));
        buffer.Acknowledge(new Ack { MessageId = ids[0], Success = true });
        buffer.Acknowledge(new Ack { MessageId = ids[1], Success = false, ErrorMessage = "not now" });
        var next = TakeAll(buffer);
        Assert.Equal([ids[TelemetryBuffer.Window], ids[TelemetryBuffer.Window + 1]], next.Select(m => m.Metrics.BatchId));

        buffer.SessionStarted();
        var resent = TakeAll(buffer);
        Assert.Equal(ids.Skip(1).Take(TelemetryBuffer.Window), resent.Select(m => m.Metrics.BatchId));

        await Task.Delay(TimeSpan.FromSeconds(1.2));
        var timedOut = TakeAll(buffer);
        Assert.Equal(ids.Skip(1).Take(TelemetryBuffer.Window), timedOut.Select(m => m.Metrics.BatchId));
        foreach (var id in ids.Skip(1))
        {
            buffer.Acknowledge(new Ack { MessageId = id, Success = true });
        }
        Assert.Equal(0, buffer.Count);
        Assert.Equal(ids.Count, buffer.Acked);
    }

    private TelemetryBuffer Create(long memory = 1 << 20, long spool = 1 << 20, double ackTimeoutSeconds = 30) =>
        new(Options.Create(new AgentOptions
        {
            StateDirectory = _state,
            TelemetryMemoryLimitBytes = memory,
            TelemetrySpoolLimitBytes = spool,
            TelemetryAckTimeoutSeconds = ackTimeoutSeconds,
        }), TimeProvider.System, NullLogger<TelemetryBuffer>.Instance);

    private static LogBatch Logs(int index)
    {
        var batch = new LogBatch { BatchId = Guid.NewGuid().ToString() };
        for (var i = 0; i < 10; i++)
        {
            batch.Entries.Add(new LogEntry { Level = "access", Message = $"batch-{index}", Timestamp = 1000 + i, Fields = { ["uri"] = "/x" } });
        }
        return batch;
    }

    private static List<AgentMessage> TakeAll(TelemetryBuffer buffer)
    {
        var taken = new List<AgentMessage>();
        while (buffer.TryTakeNext(out var message))
        {
            taken.Add(message);
        }
        return taken;
    }
}
