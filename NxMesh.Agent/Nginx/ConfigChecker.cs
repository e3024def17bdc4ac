using Microsoft.Extensions.Options;

namespace NxMesh.Agent.Nginx;

/// <summary>
/// `nginx -t` in a scratch prefix with the agent's layout (logs/, temp/, html/): paths relative to the config
/// resolve inside the config's own directory, paths relative to the prefix land in scratch, so checking a candidate
/// writes nothing into the live prefix (not even its error log).
/// </summary>
internal sealed class ConfigChecker(IOptions<AgentOptions> options)
{
    private readonly AgentOptions _options = options.Value;

    /// <summary>Checks a config file that already sits in its directory (a staged release).</summary>
    public async Task<(bool Valid, string Output)> CheckAsync(string configPath, CancellationToken cancellationToken)
    {
        var scratch = CreateScratch();
        try
        {
            return await NginxCommands.TestConfigAsync(_options.NginxBinary, scratch + "/", configPath, cancellationToken);
        }
        finally
        {
            TryDelete(scratch);
        }
    }

    /// <summary>A fresh scratch prefix; the caller deletes it.</summary>
    public string CreateScratch()
    {
        var scratch = Path.Combine(Path.GetFullPath(_options.StateDirectory), "scratch", Guid.NewGuid().ToString("N")[..12]);
        // A candidate may carry private keys: only the agent's user may look inside.
        Directory.CreateDirectory(scratch, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        foreach (var directory in new[] { "logs", "temp", "html", "conf" })
        {
            Directory.CreateDirectory(Path.Combine(scratch, directory));
        }
        return scratch;
    }

    public static void TryDelete(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
    }
}

/// <summary>One nginx operation at a time: an apply, a rollback, a command.</summary>
internal sealed class NginxGate
{
    private readonly SemaphoreSlim _semaphore = new(1, 1);

    public async Task<IDisposable> EnterAsync(CancellationToken cancellationToken)
    {
        await _semaphore.WaitAsync(cancellationToken);
        return new Releaser(_semaphore);
    }

    private sealed class Releaser(SemaphoreSlim semaphore) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                semaphore.Release();
            }
        }
    }
}
