using System.Runtime.InteropServices;

namespace NxMesh.Agent.Nginx;

/// <summary>POSIX signals for an nginx master: QUIT stops gracefully, HUP reloads, TERM stops fast.</summary>
internal static partial class Signals
{
    public const int Hup = 1;
    public const int Quit = 3;
    public const int Kill = 9;
    public const int Term = 15;

    public static bool Send(int pid, int signal) => pid > 0 && kill(pid, signal) == 0;

    public static bool IsAlive(int pid) => pid > 0 && kill(pid, 0) == 0 && !NginxProcesses.IsZombie(pid);

    /// <summary>rename(2): atomically replaces <paramref name="to"/> (a file or symlink) with <paramref name="from"/>.</summary>
    public static void Rename(string from, string to)
    {
        if (rename(from, to) != 0)
        {
            throw new IOException($"rename {from} -> {to} failed (errno {Marshal.GetLastPInvokeError()}).");
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int sig);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int rename(string oldpath, string newpath);
}
