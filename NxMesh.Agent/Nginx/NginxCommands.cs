using System.Diagnostics;
using System.Text;

namespace NxMesh.Agent.Nginx;

/// <summary>Invocations of the nginx binary against a prefix.</summary>
internal static class NginxCommands
{
    private static readonly TimeSpan TestTimeout = TimeSpan.FromSeconds(30);

    /// <summary>`nginx -t`: whether the config loads, with nginx's own text.</summary>
    public static async Task<(bool Valid, string Output)> TestConfigAsync(string binary, NginxPrefix prefix, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(binary) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in new[] { "-t", "-q", "-p", prefix.Root + "/", "-c", prefix.MainConfig })
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {binary}.");
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TestTimeout);
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
        return (process.ExitCode == 0, output);
    }

    /// <summary>Starts the master in the foreground (daemon off) so the agent owns its lifetime.</summary>
    public static Process StartMaster(string binary, NginxPrefix prefix, Action<string> onOutput)
    {
        var start = new ProcessStartInfo(binary) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in new[] { "-p", prefix.Root + "/", "-c", prefix.MainConfig, "-g", "daemon off;" })
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
