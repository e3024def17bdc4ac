using System.Diagnostics;
using System.Globalization;

namespace NxMesh.AgentHub.Connections;

/// <summary>
/// The writes of one recompute run's pushes, timed by the streams' writers: per message the time from the enqueue to
/// the writer taking it off the queue (<i>wake</i>: thread-pool scheduling of the writer) and to its
/// <c>WriteAsync</c> completing (<i>written</i>: serialization and the hand-over to the HTTP/2 connection), and the
/// first/last write since the run's origin (its notification's arrival). When every push is written (or after
/// <see cref="Timeout"/>, for streams that closed with the push still queued) the summary is handed to the callback
/// once. Cost per message: two longs in preallocated arrays; per run: this object.
/// </summary>
internal sealed class WriteRound
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private readonly long _origin;
    private readonly long[] _wake;
    private readonly long[] _written;
    private readonly Action<WriteSummary> _done;
    private int _count;
    private int _expected = int.MaxValue;
    private long _first = long.MaxValue;
    private long _last = long.MinValue;
    private int _completed;

    /// <param name="origin">A <see cref="Stopwatch.GetTimestamp"/> the first/last write are measured from.</param>
    /// <param name="capacity">At most this many writes are recorded (the run's connections).</param>
    /// <param name="done">Called once with the summary.</param>
    public WriteRound(long origin, int capacity, Action<WriteSummary> done)
    {
        _origin = origin;
        _wake = new long[capacity];
        _written = new long[capacity];
        _done = done;
    }

    /// <summary>A writer sent one of this round's messages: enqueued, dequeued and written are Stopwatch timestamps.</summary>
    public void Record(long enqueuedAt, long dequeuedAt, long writtenAt)
    {
        var slot = Interlocked.Increment(ref _count) - 1;
        if (slot < _written.Length)
        {
            _wake[slot] = dequeuedAt - enqueuedAt;
            _written[slot] = writtenAt - enqueuedAt;
        }
        Min(ref _first, writtenAt);
        Max(ref _last, writtenAt);
        if (slot + 1 >= Volatile.Read(ref _expected))
        {
            Complete();
        }
    }

    /// <summary>The run enqueued <paramref name="expected"/> messages of this round: the summary follows the last write.</summary>
    public void Seal(int expected)
    {
        Volatile.Write(ref _expected, Math.Min(expected, _written.Length));
        if (expected == 0)
        {
            return;
        }
        if (Volatile.Read(ref _count) >= Volatile.Read(ref _expected))
        {
            Complete();
            return;
        }
        _ = Task.Delay(Timeout).ContinueWith(_ => Complete(), TaskScheduler.Default);
    }

    private void Complete()
    {
        if (Interlocked.Exchange(ref _completed, 1) != 0)
        {
            return;
        }
        var count = Math.Min(Volatile.Read(ref _count), _written.Length);
        _done(new WriteSummary(
            count, Volatile.Read(ref _expected),
            Percentiles(_wake, count), Percentiles(_written, count),
            count == 0 ? 0 : Ms(Interlocked.Read(ref _first) - _origin),
            count == 0 ? 0 : Ms(Interlocked.Read(ref _last) - _origin)));
    }

    private static (double P50, double P99, double Max) Percentiles(long[] values, int count)
    {
        if (count == 0)
        {
            return (0, 0, 0);
        }
        // Copied: a writer of a timed-out round may still record into the array.
        var sorted = values.AsSpan(0, count).ToArray();
        Array.Sort(sorted);
        return (Ms(sorted[NearestRank(count, 0.50)]), Ms(sorted[NearestRank(count, 0.99)]), Ms(sorted[count - 1]));
    }

    /// <summary>Nearest-rank percentile index (every value reported was measured).</summary>
    internal static int NearestRank(int count, double percentile) => Math.Clamp((int)Math.Ceiling(percentile * count) - 1, 0, count - 1);

    private static double Ms(long ticks) => Math.Round(ticks * 1000.0 / Stopwatch.Frequency, 1);

    private static void Min(ref long target, long value)
    {
        var current = Volatile.Read(ref target);
        while (value < current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }
            current = seen;
        }
    }

    private static void Max(ref long target, long value)
    {
        var current = Volatile.Read(ref target);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }
            current = seen;
        }
    }
}

/// <summary>
/// What <see cref="WriteRound"/> measured: writes recorded of those enqueued; enqueue → dequeued and enqueue →
/// written (p50/p99/max, ms); the first and last write in ms after the round's origin.
/// </summary>
internal readonly record struct WriteSummary(int Written, int Enqueued, (double P50, double P99, double Max) Wake,
    (double P50, double P99, double Max) EnqueueToWritten, double FirstWrittenMs, double LastWrittenMs)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Written} of {Enqueued} written; enqueue→dequeued p50 {Wake.P50} / p99 {Wake.P99} / max {Wake.Max} ms, "
        + $"enqueue→written p50 {EnqueueToWritten.P50} / p99 {EnqueueToWritten.P99} / max {EnqueueToWritten.Max} ms; "
        + $"first written {FirstWrittenMs} ms, last {LastWrittenMs} ms after the notification");
}
