using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Win32.SafeHandles;
using NxMesh.Agent.State;

namespace NxMesh.Agent.Telemetry;

/// <summary>A run of complete access-log lines from one file, with a batch id derived from where they came from.</summary>
internal sealed record TailBatch(long Sequence, string BatchId, IReadOnlyList<string> Lines, bool Replayed);

/// <summary>
/// Follows nginx's JSON access log through rotation (rename + recreate: the old file is drained, then the new one is
/// read from 0) and truncation (copytruncate: reading restarts at 0), and cuts the lines into batches of at most
/// <c>maxLines</c>/<c>maxBytes</c>.
/// <para>
/// Resuming without loss or duplication: the state file (0600) holds the committed position (file identity and
/// offset; everything before it is acked by the master or spooled on disk) and the byte ranges of every batch cut
/// after it. A range is saved before its batch is handed out, and the batch id is derived from the file identity,
/// the range and a hash of its bytes. After a restart (even a crash) those ranges are read again and become the same
/// batches with the same ids, so the master's dedupe by batch id stores each line once; a range whose bytes changed
/// or vanished is counted as lost instead of being sent under a wrong id. <see cref="Settle"/> moves the committed
/// position over the settled prefix.
/// </para>
/// </summary>
internal sealed class AccessLogTail : IDisposable
{
    private const int ReadBufferBytes = 256 * 1024;
    private const int HeadBytes = 64;
    private static readonly JsonSerializerOptions StateJson = new() { WriteIndented = false };

    private readonly string _path;
    private readonly string _statePath;
    private readonly int _maxLines;
    private readonly int _maxBytes;
    private readonly TimeSpan _rotationQuiet;
    private readonly byte[] _buffer = new byte[ReadBufferBytes];
    private readonly Lock _gate = new();
    private readonly List<Pending> _pending = [];
    private readonly List<string> _lines = [];
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private SafeFileHandle? _handle;
    private FileIdentity _identity;
    private long _offset;
    private long _batchStart;
    private long _batchBytes;
    private Position? _committed;
    private long _nextSequence;
    private long? _oldFileQuietSince;
    private Head? _head;

    // rotationQuiet: after the path names a new file, the old one is still read until it has not grown for this
    // long; with logrotate's "create", nginx writes into the renamed file until the postrotate USR1 reaches it.
    public AccessLogTail(string path, string statePath, int maxLines, int maxBytes, TimeSpan rotationQuiet = default)
    {
        _path = path;
        _statePath = statePath;
        _maxLines = maxLines;
        _maxBytes = maxBytes;
        _rotationQuiet = rotationQuiet;
    }

    public long Rotations { get; private set; }
    public long Truncations { get; private set; }

    /// <summary>Batches of the saved state that could not be read back unchanged (their file is gone or was rewritten).</summary>
    public long LostBatches { get; private set; }

    /// <summary>The position everything before which is settled (null before the first batch).</summary>
    public Position? Committed
    {
        get
        {
            lock (_gate)
            {
                return _committed;
            }
        }
    }

    /// <summary>Loads the state and returns the batches cut but not settled before the restart, unchanged.</summary>
    public IReadOnlyList<TailBatch> Recover()
    {
        var state = LoadState();
        if (state is null)
        {
            return [];
        }
        var replay = new List<TailBatch>();
        lock (_gate)
        {
            _committed = state.Committed;
            var lastLost = false;
            foreach (var range in state.Pending)
            {
                var identity = new FileIdentity(range.Device, range.Inode);
                var lines = ReadRange(identity, range.Start, range.End, range.BatchId);
                lastLost = lines is null;
                if (lines is null)
                {
                    LostBatches++;
                    continue;
                }
                var sequence = _nextSequence++;
                _pending.Add(new Pending(sequence, identity, range.Start, range.End, range.BatchId, new Head(range.HeadLength, range.HeadHash)));
                replay.Add(new TailBatch(sequence, range.BatchId, lines, Replayed: true));
            }
            var resume = state.Pending.Count > 0
                ? new Position(state.Pending[^1].Device, state.Pending[^1].Inode, state.Pending[^1].End, state.Pending[^1].HeadLength, state.Pending[^1].HeadHash)
                : state.Committed;
            if (resume is not null && Locate(resume) is { } file)
            {
                // Bytes that changed under a saved range mean the file was rewritten (copytruncate while down): start over.
                Open(file, lastLost ? 0 : resume.Offset);
            }
            if (_pending.Count == 0 && _handle is not null)
            {
                var head = CurrentHead();
                _committed = new Position(_identity.Device, _identity.Inode, _offset, head.Length, head.Hash);
            }
            SaveState();
        }
        return replay;
    }

    /// <summary>Reads what nginx appended; returns the batches that filled up (and the open one when <paramref name="flush"/>).</summary>
    public List<TailBatch> Read(bool flush)
    {
        var batches = new List<TailBatch>();
        if (_handle is null && File.Exists(_path))
        {
            Open(_path, 0);
        }
        while (_handle is not null)
        {
            var length = RandomAccess.GetLength(_handle);
            if (length < _offset)
            {
                Cut(batches);
                _offset = 0;
                Truncations++;
            }
            var before = _offset;
            ReadLines(length, batches);
            var current = FileIdentity.Of(_path);
            if (current is null || current == _identity)
            {
                _oldFileQuietSince = null;
                break;
            }
            // Rotated: keep draining the old file until it stays quiet, then follow the new one from its start.
            var now = Environment.TickCount64;
            if (_oldFileQuietSince is null || _offset != before)
            {
                _oldFileQuietSince = now;
            }
            if (TimeSpan.FromMilliseconds(now - _oldFileQuietSince.Value) < _rotationQuiet)
            {
                break;
            }
            ReadLines(RandomAccess.GetLength(_handle), batches);
            Cut(batches);
            Open(_path, 0);
            _oldFileQuietSince = null;
            Rotations++;
        }
        if (flush)
        {
            Cut(batches);
        }
        return batches;
    }

    /// <summary>The batch is acked, spooled durably or dropped at a bound: its lines need not be read again.</summary>
    public void Settle(long sequence)
    {
        lock (_gate)
        {
            var index = _pending.FindIndex(p => p.Sequence == sequence);
            if (index < 0)
            {
                return;
            }
            _pending[index] = _pending[index] with { Settled = true };
            var moved = false;
            while (_pending.Count > 0 && _pending[0].Settled)
            {
                var settled = _pending[0];
                _committed = new Position(settled.Identity.Device, settled.Identity.Inode, settled.End, settled.Head.Length, settled.Head.Hash);
                _pending.RemoveAt(0);
                moved = true;
            }
            if (moved)
            {
                SaveState();
            }
        }
    }

    public void Dispose()
    {
        _handle?.Dispose();
        _hash.Dispose();
    }

    internal static string BatchIdFor(FileIdentity identity, long start, long end, ReadOnlySpan<byte> contentHash)
    {
        Span<byte> input = stackalloc byte[32 + 32];
        BinaryPrimitives.WriteUInt64BigEndian(input, identity.Device);
        BinaryPrimitives.WriteUInt64BigEndian(input[8..], identity.Inode);
        BinaryPrimitives.WriteInt64BigEndian(input[16..], start);
        BinaryPrimitives.WriteInt64BigEndian(input[24..], end);
        contentHash[..32].CopyTo(input[32..]);
        Span<byte> digest = stackalloc byte[32];
        SHA256.HashData(input, digest);
        var bytes = digest[..16];
        bytes[6] = (byte)((bytes[6] & 0x0F) | 0x80); // RFC 9562 version 8 (custom, name-derived)
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80);
        return new Guid(bytes, bigEndian: true).ToString();
    }

    private void Open(string file, long offset)
    {
        _handle?.Dispose();
        _handle = File.OpenHandle(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        _identity = FileIdentity.Of(_handle) ?? throw new IOException($"cannot stat {file}");
        _head = null;
        _offset = RandomAccess.GetLength(_handle) < offset ? 0 : offset;
    }

    private void ReadLines(long length, List<TailBatch> batches)
    {
        while (_offset < length)
        {
            var count = RandomAccess.Read(_handle!, _buffer.AsSpan(0, (int)Math.Min(_buffer.Length, length - _offset)), _offset);
            if (count <= 0)
            {
                return;
            }
            var chunk = _buffer.AsSpan(0, count);
            var last = chunk.LastIndexOf((byte)'\n');
            if (last < 0)
            {
                if (count < _buffer.Length)
                {
                    return; // a line nginx is still writing
                }
                AddLine(chunk, batches); // longer than the buffer: not one of ours, the parser counts it
                continue;
            }
            var complete = chunk[..(last + 1)];
            while (complete.Length > 0)
            {
                var end = complete.IndexOf((byte)'\n');
                AddLine(complete[..(end + 1)], batches);
                complete = complete[(end + 1)..];
            }
        }
    }

    private void AddLine(ReadOnlySpan<byte> bytes, List<TailBatch> batches)
    {
        if (_batchBytes == 0)
        {
            _batchStart = _offset;
        }
        _hash.AppendData(bytes);
        _batchBytes += bytes.Length;
        _offset += bytes.Length;
        var text = Encoding.UTF8.GetString(bytes).TrimEnd('\n', '\r');
        if (text.Length > 0)
        {
            _lines.Add(text);
        }
        if (_lines.Count >= _maxLines || _batchBytes >= _maxBytes)
        {
            Cut(batches);
        }
    }

    private void Cut(List<TailBatch> batches)
    {
        if (_batchBytes == 0)
        {
            return;
        }
        var id = BatchIdFor(_identity, _batchStart, _offset, _hash.GetHashAndReset());
        var head = CurrentHead();
        lock (_gate)
        {
            var sequence = _nextSequence++;
            _pending.Add(new Pending(sequence, _identity, _batchStart, _offset, id, head));
            // Saved before the batch leaves: a crash after sending still finds this exact range again.
            SaveState();
            batches.Add(new TailBatch(sequence, id, [.. _lines], Replayed: false));
        }
        _lines.Clear();
        _batchBytes = 0;
    }

    private List<string>? ReadRange(FileIdentity identity, long start, long end, string batchId)
    {
        if (FileIdentity.Locate(identity, _path) is not { } file)
        {
            return null;
        }
        using var handle = File.OpenHandle(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        if (FileIdentity.Of(handle) != identity || RandomAccess.GetLength(handle) < end || end - start > int.MaxValue)
        {
            return null;
        }
        var bytes = new byte[end - start];
        var read = 0;
        while (read < bytes.Length)
        {
            var count = RandomAccess.Read(handle, bytes.AsSpan(read), start + read);
            if (count <= 0)
            {
                return null;
            }
            read += count;
        }
        if (BatchIdFor(identity, start, end, SHA256.HashData(bytes)) != batchId)
        {
            return null;
        }
        return [.. Encoding.UTF8.GetString(bytes).Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0)];
    }

    private StateFile? LoadState()
    {
        try
        {
            return File.Exists(_statePath) ? JsonSerializer.Deserialize<StateFile>(File.ReadAllText(_statePath), StateJson) : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private void SaveState() => PrivateFile.WriteJson(_statePath, new StateFile(
        _committed,
        [.. _pending.Select(p => new PendingRange(p.Identity.Device, p.Identity.Inode, p.Start, p.End, p.BatchId, p.Head.Length, p.Head.Hash))]), StateJson);

    /// <summary>
    /// The file with that identity whose first bytes are still the ones seen when the position was saved: an inode
    /// number freed by a deleted rotation can come back as a brand-new access log, which must be read from its start.
    /// </summary>
    private string? Locate(Position position)
    {
        var identity = new FileIdentity(position.Device, position.Inode);
        if (FileIdentity.Locate(identity, _path) is not { } file)
        {
            return null;
        }
        if (position.HeadHash is null)
        {
            return file;
        }
        using var handle = File.OpenHandle(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        return HeadOf(handle, position.HeadLength) is { } head && head.Hash == position.HeadHash ? file : null;
    }

    /// <summary>The current file's fingerprint: a hash of its first (up to) 64 bytes, cached once it has them all.</summary>
    private Head CurrentHead()
    {
        if (_head is { Length: HeadBytes } cached)
        {
            return cached;
        }
        var length = (int)Math.Min(HeadBytes, RandomAccess.GetLength(_handle!));
        _head = HeadOf(_handle!, length) ?? new Head(0, null);
        return _head;
    }

    private static Head? HeadOf(SafeFileHandle handle, int length)
    {
        var bytes = new byte[length];
        var read = 0;
        while (read < length)
        {
            var count = RandomAccess.Read(handle, bytes.AsSpan(read), read);
            if (count <= 0)
            {
                return null;
            }
            read += count;
        }
        return new Head(length, Convert.ToHexStringLower(SHA256.HashData(bytes)));
    }

    /// <summary>A byte offset in one file.</summary>
    internal sealed record Position(ulong Device, ulong Inode, long Offset, int HeadLength = 0, string? HeadHash = null);

    private sealed record Head(int Length, string? Hash);

    private sealed record Pending(long Sequence, FileIdentity Identity, long Start, long End, string BatchId, Head Head, bool Settled = false);

    private sealed record PendingRange(ulong Device, ulong Inode, long Start, long End, string BatchId, int HeadLength = 0, string? HeadHash = null);

    private sealed record StateFile(Position? Committed, List<PendingRange> Pending);
}
