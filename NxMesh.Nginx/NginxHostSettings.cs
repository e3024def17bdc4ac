namespace NxMesh.Nginx;

/// <summary>What an agent's host decides about its nginx, independent of any workspace config.</summary>
public sealed record NginxHostSettings
{
    /// <summary>The address every public listener binds (local mode: 127.0.0.(10+i)).</summary>
    public string ListenAddress { get; init; } = "0.0.0.0";

    /// <summary>Added to ports below 1024 when nginx cannot bind privileged ports (not root).</summary>
    public int PrivilegedPortOffset { get; init; }

    /// <summary>Loopback-only port of the stub_status listener.</summary>
    public int StubStatusPort { get; init; } = 8099;

    public int WorkerProcesses { get; init; } = 1;

    public int WorkerConnections { get; init; } = 1024;

    /// <summary>
    /// Absolute directories a location <c>root</c> may point into (the directory itself or below it). A root
    /// outside all of them is left out with a warning and the location answers 404. Empty: no root is served.
    /// </summary>
    public IReadOnlyList<string> AllowedRootDirectories { get; init; } = [];

    /// <summary>The port nginx really listens on for a configured port.</summary>
    public int EffectivePort(int port) => port < 1024 ? port + PrivilegedPortOffset : port;

    /// <summary>True when <paramref name="root"/> (already validated: absolute, no '..') lies in an allowed directory.</summary>
    public bool IsRootAllowed(string root)
    {
        var normalizedRoot = root.Length > 1 ? root.TrimEnd('/') : root;
        foreach (var allowed in AllowedRootDirectories)
        {
            var directory = allowed.Length > 1 ? allowed.TrimEnd('/') : allowed;
            if (directory.Length == 0 || directory[0] != '/')
            {
                continue;
            }
            if (directory == "/" || normalizedRoot == directory || normalizedRoot.StartsWith(directory + "/", StringComparison.Ordinal))
            {
                return true;
            }
        }
        return false;
    }
}
