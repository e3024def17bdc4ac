using System.Diagnostics;
using System.Text;

namespace NxMesh.Agent.Nginx;

/// <summary>Invocations of the nginx binary.</summary>
internal static class NginxCommands
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(30);

    /// <summary>`nginx -t`: whether the config loads, with nginx's own text.</summary>
    public static async Task<(bool Valid, string Output)> TestConfigAsync(string binary, string prefix, string configPath, CancellationToken cancellationToken)
    {
        var (exitCode, output) = await RunAsync(binary, ["-t", "-p", prefix, "-c", configPath], cancellationToken);
        return (exitCode == 0, output);
    }

    /// <summary>Runs nginx to completion (bounded) and returns its exit code with stdout and stderr.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(string binary, IEnumerable<string> arguments, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(binary) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {binary}.");
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(CommandTimeout);
        var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill();
            throw;
        }
        var output = new StringBuilder().Append(await stdout).Append(await stderr).ToString().Trim();
        return (process.ExitCode, output);
    }

    /// <summary>Starts the master in the foreground (daemon off) so the agent owns its lifetime.</summary>
    public static Process StartMaster(string binary, NginxLayout layout, Action<string> onOutput)
    {
        var start = new ProcessStartInfo(binary) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in new[] { "-p", layout.PrefixArgument, "-c", layout.ConfigPath, "-g", "daemon off;" })
        {
            start.ArgumentList.Add(argument);
        }
        var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => { if (e.Data is { Length: > 0 } line) { onOutput(line); } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is { Length: > 0 } line) { onOutput(line); } };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }
}
