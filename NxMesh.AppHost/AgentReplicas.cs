using System.Globalization;
using NxMesh.AppHost.Local;

namespace NxMesh.AppHost;

public static class AgentReplicas
{
    private const string TokenPrefix = "nxmesh_agent_";

    /// <summary>
    /// N nginx+agent replicas. Local mode: the agent project as a process supervising its own nginx on
    /// 127.0.0.(10+i). Container mode: the image built from NxMesh.Agent/Dockerfile (nginx + agent).
    /// </summary>
    /// <remarks>
    /// A local replica waits only for the migrator (which seeds its enrollment token), not for its AgentHub: Aspire
    /// re-checks a resource's waits on every start, so a replica waiting for the hub could not be (re)started while the
    /// hub is down — yet that is when an operator needs it to start and serve its last known good config. An agent
    /// that finds no hub retries with its reconnect backoff (1 s doubling to 30 s, ±20 %).
    /// </remarks>
    public static void AddAgentReplicas(this IDistributedApplicationBuilder builder, ControlPlane controlPlane, Stores stores, FleetSettings settings, FleetMode mode)
    {
        for (var i = 1; i <= settings.AgentReplicas; i++)
        {
            // Each replica talks to one hub, named in its environment, so the dashboard shows who serves whom.
            var hub = controlPlane.AgentHubs[settings.AgentHubOf(i) - 1];
            var grpc = hub.GetEndpoint("grpc");
            if (mode == FleetMode.Local)
            {
                var state = stores.LocalData!.AgentState(i);
                Directory.CreateDirectory(state);
                builder.AddProject<Projects.NxMesh_Agent>(ResourceNames.Agent(i))
                    .WithEnvironment("Agent__StateDirectory", state)
                    .WithEnvironment("Agent__NginxBinary", settings.NginxBinary)
                    .WithEnvironment("Agent__ListenAddress", settings.AgentAddress(i))
                    .WithEnvironment("Agent__PortOffset", settings.EffectiveAgentPortOffset.ToString(CultureInfo.InvariantCulture))
                    .WithEnvironment("Agent__StubStatusPort", LocalDataDirectory.FreeTcpPort().ToString(CultureInfo.InvariantCulture))
                    .WithEnvironment("Agent__DeploymentMode", "standalone")
                    .WithEnvironment("Agent__RegistrationToken", RegistrationToken(stores, i))
                    .WithEnvironment("Agent__Labels__replica", i.ToString(CultureInfo.InvariantCulture))
                    .WithEnvironment("Agent__MasterUrl", grpc)
                    .WaitForCompletion(controlPlane.Migrator ?? throw new InvalidOperationException("Local mode needs the migrator."));
            }
            else
            {
                builder.AddDockerfile(ResourceNames.Agent(i), "..", "NxMesh.Agent/Dockerfile")
                    .WithEnvironment("Agent__DeploymentMode", "docker_sidecar")
                    .WithEnvironment("Agent__Labels__replica", i.ToString(CultureInfo.InvariantCulture))
                    .WithEnvironment("Agent__MasterUrl", grpc)
                    .WithHttpEndpoint(targetPort: 80, name: "http")
                    .WaitFor(hub);
            }
        }
    }

    /// <summary>Local mode: a replica's enrollment token, generated once and kept in the local data folder.</summary>
    public static string RegistrationToken(Stores stores, int index) =>
        stores.LocalData!.Secret($"{ResourceNames.Agent(index)}-registration-token", () => LocalDataDirectory.RandomToken(TokenPrefix));
}
