using NxMesh.Nginx.Rendering;
using NxMesh.Protocol.V1;

namespace NxMesh.Agent.Apply;

/// <summary>
/// The production renderer: NxMesh.Nginx's ConfigRenderer with this host's settings and nginx capabilities.
/// Until that renderer is merged, every update is refused (FAILED) with this reason rather than rendered partially.
/// </summary>
internal sealed class LibraryConfigRenderer : IConfigRenderer
{
    public RenderedConfig Render(ConfigUpdate update) =>
        throw new ConfigRenderingException("this agent build has no config renderer yet (NxMesh.Nginx ConfigRenderer is not merged)");
}
