namespace NxMesh.Testing;

/// <summary>nginx in a temporary prefix, in the foreground, stopped by its PID.</summary>
public sealed class NginxRunner : IAsyncDisposable
{
    public const string Binary = "/usr/sbin/nginx";
    private ServerProcess? _process;

    private NginxRunner(string prefix) => Prefix = prefix;

    public string Prefix { get; }
    public string ConfigPath => Path.Combine(Prefix, "conf", "nginx.conf");

    public static NginxRunner Create(string config)
    {
        var prefix = Path.Combine(Path.GetTempPath(), "nxmesh-nginx-" + Guid.NewGuid().ToString("N")[..12]);
        foreach (var directory in new[] { "conf", "logs", "temp" })
        {
            Directory.CreateDirectory(Path.Combine(prefix, directory));
        }
        var runner = new NginxRunner(prefix);
        File.WriteAllText(runner.ConfigPath, config);
        return runner;
    }

    /// <summary>`nginx -t` on the prefix's config.</summary>
    public Task<(int ExitCode, string Output)> TestAsync() =>
        ServerProcess.RunAsync(Binary, TimeSpan.FromSeconds(30), "-t", "-p", Prefix + "/", "-c", ConfigPath);

    /// <summary>`nginx -T`: the config as nginx itself parsed it.</summary>
    public Task<(int ExitCode, string Output)> DumpAsync() =>
        ServerProcess.RunAsync(Binary, TimeSpan.FromSeconds(30), "-T", "-p", Prefix + "/", "-c", ConfigPath);

    public async Task StartAsync(Uri readyProbe)
    {
        _process = ServerProcess.Start(Binary, "-p", Prefix + "/", "-c", ConfigPath, "-g", "daemon off;");
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        await Wait.UntilAsync(async () =>
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException("nginx exited: " + _process.Output);
            }
            using var response = await http.GetAsync(readyProbe);
            return true;
        }, TimeSpan.FromSeconds(20), $"nginx at {readyProbe}");
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is not null)
        {
            await _process.StopAsync("QUIT");
            await _process.DisposeAsync();
        }
        try
        {
            Directory.Delete(Prefix, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
