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

    /// <summary>The port nginx really listens on for a configured port.</summary>
    public int EffectivePort(int port) => port < 1024 ? port + PrivilegedPortOffset : port;
}
