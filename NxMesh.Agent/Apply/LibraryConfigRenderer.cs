using NxMesh.Agent.Nginx;
using NxMesh.Nginx.Rendering;
using NxMesh.Protocol.V1;

namespace NxMesh.Agent.Apply;

/// <summary>The production renderer: NxMesh.Nginx's ConfigRenderer with this host's settings and nginx build.</summary>
internal sealed class LibraryConfigRenderer(AgentOptions options, NginxBuild build) : IConfigRenderer
{
    public RenderedConfig Render(ConfigUpdate update)
    {
        try
        {
            return ConfigRenderer.Render(update, options.HostSettings, build.Capabilities);
        }
        catch (InvalidConfigUpdateException ex)
        {
            throw new ConfigRenderingException(ex.Message);
        }
    }
}
