using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace NxMesh.Agent.Telemetry;

/// <summary>
/// A file's device and inode: what stays the same across a rename and changes when nginx reopens a recreated log.
/// Read with statx(2), whose layout is the same on every Linux architecture (.NET does not expose inodes).
/// </summary>
internal readonly partial record struct FileIdentity(ulong Device, ulong Inode)
{
    private const int AtFdCwd = -100;
    private const int AtEmptyPath = 0x1000;
    private const uint StatxIno = 0x100;
    private const int StatxSize = 256;

    public static FileIdentity? Of(string path)
    {
        Span<byte> buffer = stackalloc byte[StatxSize];
        return Stat(AtFdCwd, path, 0, buffer) ? Parse(buffer) : null;
    }

    public static FileIdentity? Of(SafeFileHandle handle)
    {
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            Span<byte> buffer = stackalloc byte[StatxSize];
            return Stat((int)handle.DangerousGetHandle(), "", AtEmptyPath, buffer) ? Parse(buffer) : null;
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    /// <summary>The path itself if it is that file, else a file in the same directory that is (a rotated copy).</summary>
    public static string? Locate(FileIdentity identity, string path)
    {
        if (Of(path) == identity)
        {
            return path;
        }
        var directory = Path.GetDirectoryName(path);
        if (directory is null || !Directory.Exists(directory))
        {
            return null;
        }
        return Directory.EnumerateFiles(directory).FirstOrDefault(f => Of(f) == identity);
    }

    // struct statx: stx_ino at 32, stx_dev_major at 136, stx_dev_minor at 140.
    private static FileIdentity Parse(ReadOnlySpan<byte> statx) => new(
        ((ulong)BinaryPrimitives.ReadUInt32LittleEndian(statx[136..]) << 32) | BinaryPrimitives.ReadUInt32LittleEndian(statx[140..]),
        BinaryPrimitives.ReadUInt64LittleEndian(statx[32..]));

    private static unsafe bool Stat(int directoryFd, string path, int flags, Span<byte> buffer)
    {
        fixed (byte* pointer = buffer)
        {
            return statx(directoryFd, path, flags, StatxIno, pointer) == 0;
        }
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int statx(int dirfd, string pathname, int flags, uint mask, byte* buffer);
}
