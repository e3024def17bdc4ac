using System.Diagnostics;
using System.Globalization;

namespace NxMesh.Agent.Apply;

/// <summary>One stage of an apply and how long it took.</summary>
public sealed record ApplyStage(string Name, TimeSpan Duration);

/// <summary>
/// Times the stages of one apply: each <see cref="Mark"/> closes the stage running since the previous mark, adds it
/// to the list and to the apply span as an event (<c>nxmesh.duration_ms</c>), so a trace shows where the time went.
/// </summary>
internal sealed class ApplyStages(Activity? activity)
{
    public const string Render = "render";
    public const string Write = "write";
    public const string Validate = "validate";
    public const string Swap = "swap";
    /// <summary>HUP sent until a worker of the new generation runs (nginx parses the config again and forks).</summary>
    public const string NewWorkers = "new_workers";
    /// <summary>New generation up until no old worker accepts any more: the confirmation beyond a bare reload.</summary>
    public const string OldStopped = "old_stopped";
    public const string Commit = "commit";

    private readonly List<ApplyStage> _stages = [];
    private long _last = Stopwatch.GetTimestamp();

    public IReadOnlyList<ApplyStage> Stages => _stages;

    /// <summary>Closes the running stage under <paramref name="name"/>.</summary>
    public void Mark(string name)
    {
        var now = Stopwatch.GetTimestamp();
        Add(name, Stopwatch.GetElapsedTime(_last, now));
        _last = now;
    }

    /// <summary>Closes the running stage as two, the second being its last <paramref name="second"/>.</summary>
    public void MarkSplit(string firstName, string secondName, TimeSpan second)
    {
        var now = Stopwatch.GetTimestamp();
        var total = Stopwatch.GetElapsedTime(_last, now);
        second = second > total ? total : second < TimeSpan.Zero ? TimeSpan.Zero : second;
        Add(firstName, total - second);
        Add(secondName, second);
        _last = now;
    }

    /// <summary>"render=1.2 write=0.3 …" in ms, for the log line.</summary>
    public override string ToString() =>
        string.Join(' ', _stages.Select(s => string.Create(CultureInfo.InvariantCulture, $"{s.Name}={s.Duration.TotalMilliseconds:0.0}")));

    private void Add(string name, TimeSpan duration)
    {
        _stages.Add(new ApplyStage(name, duration));
        activity?.AddEvent(new ActivityEvent(name, tags: new ActivityTagsCollection
        {
            ["nxmesh.duration_ms"] = Math.Round(duration.TotalMilliseconds, 3),
        }));
    }
}
