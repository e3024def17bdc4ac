using NxMesh.Nginx.Rendering;
using NxMesh.Protocol.V1;

namespace NxMesh.Agent.Apply;

/// <summary>
/// ConfigUpdate → complete nginx config. The one seam between the agent and the shared renderer, so the apply
/// pipeline is tested on hand-written configs and the production renderer is one registration.
/// </summary>
public interface IConfigRenderer
{
    /// <exception cref="ConfigRenderingException">The update cannot be rendered (the message says why).</exception>
    RenderedConfig Render(ConfigUpdate update);
}

public sealed class ConfigRenderingException(string message) : Exception(message);
