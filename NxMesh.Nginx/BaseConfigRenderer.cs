using NxMesh.Nginx.Rendering;
using NxMesh.Protocol.V1;

namespace NxMesh.Nginx;

/// <summary>
/// The config an agent's nginx serves before it has any workspace config: the render of an empty
/// <see cref="ConfigUpdate"/> — a default server on port 80 answering 404 for every Host, the JSON access log, and
/// stub_status on a loopback-only listener. Paths are relative to the nginx prefix.
/// </summary>
public static class BaseConfigRenderer
{
    public const string StubStatusPath = ConfigRenderer.StubStatusPath;

    public static string Render(NginxHostSettings settings) => Render(settings, NginxCapabilities.Standard);

    public static string Render(NginxHostSettings settings, NginxCapabilities capabilities) =>
        ConfigRenderer.Render(new ConfigUpdate(), settings, capabilities).MainConfig;
}
