using NxMesh.Testing;

namespace NxMesh.AgentHub.Tests;

/// <summary>
/// The setup a test needs to run the real agent process (NxMesh.Agent supervising its own nginx): a private state
/// folder, a random 127.x.y.z listen address and a port offset, so several agents and test runs never collide.
/// One instance per test class; <see cref="Start"/> may be called again to restart the agent on the same state.
/// </summary>
internal sealed class RealAgent(string name) : IDisposable
{
    private readonly string _state = Path.Combine(Path.GetTempPath(), $"nxmesh-{name}-" + Guid.NewGuid().ToString("N")[..8]);

    public string Address { get; } = $"127.{Random.Shared.Next(1, 250)}.{Random.Shared.Next(1, 250)}.{Random.Shared.Next(2, 250)}";

    public int Offset { get; } = Random.Shared.Next(20, 60) * 1000;

    /// <summary>The agent's nginx on port 80 (shifted by the offset), with <paramref name="path"/>.</summary>
    public string Url(string path = "/") => $"http://{Address}:{80 + Offset}{path}";

    /// <summary>Starts the agent against the hub on <paramref name="hubPort"/>, enrolling with <paramref name="token"/>.</summary>
    public ServerProcess Start(int hubPort, string token, params string[] extraArguments)
    {
        Directory.CreateDirectory(_state);
        string[] arguments =
        [
            AgentBinary.Dll(),
            "--master-url", $"http://127.0.0.1:{hubPort}",
            "--registration-token", token,
            "--state-dir", _state,
            "--nginx-binary", "/usr/sbin/nginx",
            "--listen-address", Address,
            "--port-offset", $"{Offset}",
            "--stub-status-port", $"{Offset + 99}",
            "--error-log-watch", "1",
            "--health-interval", "1",
            "--log-format", "text",
            .. extraArguments,
        ];
        return ServerProcess.Start("dotnet", arguments);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_state, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
