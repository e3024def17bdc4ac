using System.Diagnostics;
using System.Globalization;

namespace NxMesh.AgentSim.Stack;

/// <summary>
/// A service of the stack under test (Api, AgentHub, a real agent, the floor server) started as its own process,
/// output appended to a log file (nothing buffered in the benchmark's memory), stopped or killed by its own PID.
/// </summary>
internal sealed class ServiceProcess : IAsyncDisposable
{
    private readonly Process _process;

    private ServiceProcess(Process process, string logFile)
    {
        _process = process;
        LogFile = logFile;
    }

    public int Pid => _process.Id;
    public bool HasExited => _process.HasExited;
    public string LogFile { get; }
    public DateTimeOffset StartedAt { get; } = DateTimeOffset.UtcNow;

    public static ServiceProcess Start(string command, IEnumerable<string> arguments, IReadOnlyDictionary<string, string> environment,
        string workingDirectory, string logFile)
    {
        // exec keeps the PID: the shell only opens the log file for the service.
        var start = new ProcessStartInfo("bash") { UseShellExecute = false, WorkingDirectory = workingDirectory };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("exec \"$0\" \"$@\" >>\"$NXMESH_BENCH_LOG\" 2>&1");
        start.ArgumentList.Add(command);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }
        start.Environment["NXMESH_BENCH_LOG"] = logFile;
        var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {command}.");
        return new ServiceProcess(process, logFile);
    }

    public string LogTail(int lines = 30)
    {
        try
        {
            return string.Join('\n', File.ReadLines(LogFile).TakeLast(lines));
        }
        catch (IOException)
        {
            return "";
        }
    }

    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public int ExitCode => _process.ExitCode;

    /// <summary>SIGKILL: no shutdown path runs (the reconnect storm's crash).</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await WaitForExitAsync(TimeSpan.FromSeconds(30));
        }
    }

    /// <summary>SIGTERM, up to 30 s for a graceful stop, then SIGKILL.</summary>
    public async Task StopAsync()
    {
        if (_process.HasExited)
        {
            return;
        }
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]))
        {
            await kill!.WaitForExitAsync();
        }
        if (!await WaitForExitAsync(TimeSpan.FromSeconds(30)))
        {
            await KillAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _process.Dispose();
    }
}
