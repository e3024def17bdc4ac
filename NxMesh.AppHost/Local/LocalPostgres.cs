using System.Diagnostics;
using System.Globalization;

namespace NxMesh.AppHost.Local;

/// <summary>
/// Prepares a Postgres data folder for a postgres process run by the AppHost (or a test fixture): initdb on first
/// run, and a server left behind by a killed run is found through postmaster.pid and stopped. initdb and postgres
/// refuse root, so as root they run as the 'postgres' user through runuser.
/// </summary>
public static class LocalPostgres
{
    public const string User = "postgres";

    public static (string Command, string[] Arguments) ServerCommand(string binDirectory, string dataDirectory, string socketDirectory, int port)
    {
        string[] server = [Path.Combine(binDirectory, "postgres"), "-D", dataDirectory, "-p", port.ToString(CultureInfo.InvariantCulture),
            "-h", "127.0.0.1", "-k", socketDirectory, "-c", "max_connections=300", "-c", "fsync=off", "-c", "full_page_writes=off"];
        return FleetSettings.RunningAsRoot ? ("runuser", ["-u", User, "--", .. server]) : (server[0], server[1..]);
    }

    public static void EnsureInitialized(string binDirectory, string dataDirectory, string socketDirectory, string password)
    {
        Directory.CreateDirectory(socketDirectory);
        GiveToPostgres(socketDirectory);
        StopLeftoverServer(dataDirectory);
        if (File.Exists(Path.Combine(dataDirectory, "PG_VERSION")))
        {
            return;
        }
        Directory.CreateDirectory(dataDirectory);
        GiveToPostgres(dataDirectory);
        var passwordFile = Path.Combine(Path.GetDirectoryName(dataDirectory)!, ".pgpass-init");
        File.WriteAllText(passwordFile, password);
        GiveToPostgres(passwordFile);
        try
        {
            Run(Path.Combine(binDirectory, "initdb"), ["-D", dataDirectory, "-U", User, "--pwfile", passwordFile,
                "--auth-host=scram-sha-256", "--auth-local=peer", "-E", "UTF8", "--no-instructions"]);
        }
        finally
        {
            File.Delete(passwordFile);
        }
    }

    /// <summary>Stops (fast shutdown) a postmaster whose pid file says it still runs; bounded to 30 s.</summary>
    public static void StopLeftoverServer(string dataDirectory)
    {
        var pidFile = Path.Combine(dataDirectory, "postmaster.pid");
        if (!File.Exists(pidFile))
        {
            return;
        }
        var firstLine = File.ReadLines(pidFile).FirstOrDefault();
        if (!int.TryParse(firstLine, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || !IsPostgres(pid))
        {
            return;
        }
        using var process = Process.GetProcessById(pid);
        Run("kill", ["-INT", pid.ToString(CultureInfo.InvariantCulture)]);
        if (!process.WaitForExit(TimeSpan.FromSeconds(30)))
        {
            process.Kill();
        }
    }

    private static bool IsPostgres(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/comm").Trim() is "postgres" or "postmaster";
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static void GiveToPostgres(string path)
    {
        if (FleetSettings.RunningAsRoot)
        {
            Run("chown", ["-R", $"{User}:", path]);
        }
        if (Directory.Exists(path))
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    private static void Run(string command, string[] arguments)
    {
        var (file, args) = FleetSettings.RunningAsRoot && command.EndsWith("initdb", StringComparison.Ordinal)
            ? ("runuser", (string[])["-u", User, "--", command, .. arguments])
            : (command, arguments);
        // A working directory the 'postgres' user can enter (the caller's may be private).
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = "/" };
        foreach (var argument in args)
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {file}.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill();
            throw new TimeoutException($"{command} did not finish within 2 minutes.");
        }
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{command} failed ({process.ExitCode}): {stdout.Result}{stderr.Result}");
        }
    }
}
