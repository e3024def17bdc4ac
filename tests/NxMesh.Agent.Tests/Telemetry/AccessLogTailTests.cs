using NxMesh.Agent.Telemetry;

namespace NxMesh.Agent.Tests.Telemetry;

/// <summary>The tail on plain files: the same file operations nginx and logrotate perform, without nginx.</summary>
public sealed class AccessLogTailTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "nxmesh-tail-" + Guid.NewGuid().ToString("N")[..12]);

    public AccessLogTailTests() => Directory.CreateDirectory(_directory);

    private string LogPath => Path.Combine(_directory, "access.json");

    private string StatePath => Path.Combine(_directory, "state", "tail.json");

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void Lines_are_cut_into_batches_and_a_partial_line_waits_for_its_newline()
    {
        using var tail = new AccessLogTail(LogPath, StatePath, maxLines: 3, maxBytes: 1 << 20);
        Append("l1", "l2", "l3", "l4");
        File.AppendAllText(LogPath, "{\"partial");

        var full = tail.Read(flush: false);
        var flushed = tail.Read(flush: true);
        File.AppendAllText(LogPath, "\":1}\n");
        var rest = tail.Read(flush: true);

        Assert.Equal(["l1", "l2", "l3"], Assert.Single(full).Lines);
        Assert.Equal(["l4"], Assert.Single(flushed).Lines);
        Assert.Equal(["{\"partial\":1}"], Assert.Single(rest).Lines);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(StatePath));
    }

    [Fact]
    public void Rotation_by_rename_and_recreate_drains_the_old_file_then_follows_the_new_one()
    {
        using var tail = new AccessLogTail(LogPath, StatePath, maxLines: 100, maxBytes: 1 << 20);
        Append("a1", "a2");
        var first = tail.Read(flush: true);
        Append("a3");
        File.Move(LogPath, LogPath + ".1");
        File.AppendAllText(LogPath + ".1", "a4\n"); // nginx writes on into the renamed file until it reopens
        var whileMissing = tail.Read(flush: false);
        Append("b1", "b2"); // the reopened (new) file

        var after = tail.Read(flush: true);

        Assert.Empty(whileMissing);
        Assert.Equal(["a1", "a2", "a3", "a4", "b1", "b2"], first.Concat(after).SelectMany(b => b.Lines));
        Assert.Equal(2, after.Count); // a batch never spans two files
        Assert.Equal(1, tail.Rotations);
    }

    [Fact]
    public async Task After_a_rotation_the_old_file_is_still_read_until_it_stays_quiet()
    {
        using var tail = new AccessLogTail(LogPath, StatePath, maxLines: 100, maxBytes: 1 << 20, rotationQuiet: TimeSpan.FromMilliseconds(500));
        Append("a1");
        var lines = tail.Read(flush: true).SelectMany(b => b.Lines).ToList();
        File.Move(LogPath, LogPath + ".1");
        Append("b1"); // logrotate's "create": the new file exists before nginx reopens
        lines.AddRange(tail.Read(flush: false).SelectMany(b => b.Lines));
        File.AppendAllText(LogPath + ".1", "a2\n"); // nginx has not reopened yet
        await Task.Delay(200);
        lines.AddRange(tail.Read(flush: false).SelectMany(b => b.Lines));
        var rotationsWhileBusy = tail.Rotations;
        await Task.Delay(700);

        lines.AddRange(tail.Read(flush: true).SelectMany(b => b.Lines));

        Assert.Equal(0, rotationsWhileBusy);
        Assert.Equal(["a1", "a2", "b1"], lines);
        Assert.Equal(1, tail.Rotations);
    }

    [Fact]
    public void Truncation_restarts_reading_at_the_start_of_the_file()
    {
        using var tail = new AccessLogTail(LogPath, StatePath, maxLines: 100, maxBytes: 1 << 20);
        Append("old-line-1", "old-line-2", "old-line-3");
        var before = tail.Read(flush: true);
        File.WriteAllText(LogPath, "");
        Append("new1");

        var after = tail.Read(flush: true);

        Assert.Equal(3, Assert.Single(before).Lines.Count);
        Assert.Equal(["new1"], Assert.Single(after).Lines);
        Assert.Equal(1, tail.Truncations);
    }

    [Fact]
    public void After_a_crash_unsettled_ranges_come_back_as_the_same_batches_and_settled_lines_never_do()
    {
        List<TailBatch> firstRun;
        using (var tail = new AccessLogTail(LogPath, StatePath, maxLines: 2, maxBytes: 1 << 20))
        {
            tail.Recover();
            Append("s1", "s2", "u1", "u2", "u3");
            firstRun = tail.Read(flush: true);
            tail.Settle(firstRun[0].Sequence);
            // "Crash": batches 2 and 3 were handed out (maybe even stored by the master) but never settled.
        }
        Append("n1");
        File.Move(LogPath, LogPath + ".1"); // and the log rotated while the agent was down
        Append("m1");

        using var restarted = new AccessLogTail(LogPath, StatePath, maxLines: 2, maxBytes: 1 << 20);
        var replayed = restarted.Recover();
        var fresh = restarted.Read(flush: true);

        Assert.Equal(3, firstRun.Count);
        Assert.Equal(firstRun.Skip(1).Select(b => (b.BatchId, string.Join(",", b.Lines))), replayed.Select(b => (b.BatchId, string.Join(",", b.Lines))));
        Assert.All(replayed, b => Assert.True(b.Replayed));
        Assert.Equal(["n1", "m1"], fresh.SelectMany(b => b.Lines));
        Assert.DoesNotContain(fresh, b => firstRun.Any(f => f.BatchId == b.BatchId));
        Assert.Equal(0, restarted.LostBatches);
    }

    [Fact]
    public void A_clean_restart_after_everything_settled_reads_only_new_lines()
    {
        using (var tail = new AccessLogTail(LogPath, StatePath, maxLines: 10, maxBytes: 1 << 20))
        {
            tail.Recover();
            Append("x1", "x2");
            foreach (var batch in tail.Read(flush: true))
            {
                tail.Settle(batch.Sequence);
            }
        }
        Append("x3");

        using var restarted = new AccessLogTail(LogPath, StatePath, maxLines: 10, maxBytes: 1 << 20);

        Assert.Empty(restarted.Recover());
        Assert.Equal(["x3"], restarted.Read(flush: true).SelectMany(b => b.Lines));
    }

    [Fact]
    public void A_range_whose_bytes_changed_while_down_is_counted_lost_not_sent_under_its_old_id()
    {
        using (var tail = new AccessLogTail(LogPath, StatePath, maxLines: 10, maxBytes: 1 << 20))
        {
            tail.Recover();
            Append("y1", "y2");
            Assert.Single(tail.Read(flush: true));
        }
        File.WriteAllText(LogPath, "");
        Append("z1", "z2");

        using var restarted = new AccessLogTail(LogPath, StatePath, maxLines: 10, maxBytes: 1 << 20);

        Assert.Empty(restarted.Recover());
        Assert.Equal(1, restarted.LostBatches);
        Assert.Equal(["z1", "z2"], restarted.Read(flush: true).SelectMany(b => b.Lines));
    }

    [Fact]
    public void A_new_file_that_got_the_old_inode_is_read_from_its_start()
    {
        using (var tail = new AccessLogTail(LogPath, StatePath, maxLines: 10, maxBytes: 1 << 20))
        {
            tail.Recover();
            Append("first-file-line-0", "first-file-line-1", "first-file-line-2");
            foreach (var batch in tail.Read(flush: true))
            {
                tail.Settle(batch.Sequence);
            }
        }
        // Same inode, other (and more) bytes: what an inode freed by a deleted rotation and reused looks like.
        var second = Enumerable.Range(0, 5).Select(i => $"second-file-line-{i}").ToArray();
        File.WriteAllText(LogPath, string.Concat(second.Select(l => l + "\n")));

        using var restarted = new AccessLogTail(LogPath, StatePath, maxLines: 10, maxBytes: 1 << 20);

        Assert.Empty(restarted.Recover());
        Assert.Equal(second, restarted.Read(flush: true).SelectMany(b => b.Lines));
    }

    [Fact]
    public void Batch_ids_are_uuids_that_depend_on_file_range_and_content()
    {
        var file = new FileIdentity(1, 2);
        var hash = new byte[32];
        var other = new byte[32];
        other[0] = 1;

        var id = AccessLogTail.BatchIdFor(file, 0, 10, hash);

        Assert.True(Guid.TryParse(id, out var guid));
        Assert.Equal(8, guid.Version);
        Assert.Equal(id, AccessLogTail.BatchIdFor(file, 0, 10, hash));
        Assert.NotEqual(id, AccessLogTail.BatchIdFor(file, 0, 11, hash));
        Assert.NotEqual(id, AccessLogTail.BatchIdFor(new FileIdentity(1, 3), 0, 10, hash));
        Assert.NotEqual(id, AccessLogTail.BatchIdFor(file, 0, 10, other));
    }

    private void Append(params string[] lines) => File.AppendAllText(LogPath, string.Concat(lines.Select(l => l + "\n")));
}
