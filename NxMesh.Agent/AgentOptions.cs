using NxMesh.Nginx;

namespace NxMesh.Agent;

/// <summary>Section "Agent"; every value can be given as --Agent:Name=value or NXMESH_AGENT_Name.</summary>
public sealed class AgentOptions
{
    public const string SectionName = "Agent";

    /// <summary>Where the agent keeps its credential, last known good config and nginx prefix.</summary>
    public string StateDirectory { get; set; } = "/var/lib/nxmesh-agent";

    public string NginxBinary { get; set; } = "nginx";

    /// <summary>The nginx prefix (-p); defaults to {StateDirectory}/nginx.</summary>
    public string? NginxPrefix { get; set; }

    public string ListenAddress { get; set; } = "0.0.0.0";

    /// <summary>Added to ports below 1024 when the agent cannot bind privileged ports.</summary>
    public int PortOffset { get; set; }

    public int StubStatusPort { get; set; } = 8099;

    /// <summary>The AgentHub address (h2c or https).</summary>
    public string? MasterUrl { get; set; }

    /// <summary>The single-use enrollment token; used only until a credential is stored.</summary>
    public string? RegistrationToken { get; set; }

    public Dictionary<string, string> Labels { get; set; } = [];

    /// <summary>docker_sidecar, kubernetes_sidecar or standalone.</summary>
    public string DeploymentMode { get; set; } = "standalone";

    /// <summary>Upper bound of the restart backoff after nginx dies unexpectedly.</summary>
    public int MaxRestartBackoffSeconds { get; set; } = 30;

    /// <summary>How long a graceful stop (SIGQUIT) may take before nginx is killed.</summary>
    public int StopTimeoutSeconds { get; set; } = 10;

    public string ResolvedNginxPrefix => Path.GetFullPath(NginxPrefix ?? Path.Combine(StateDirectory, "nginx"));

    public NginxHostSettings HostSettings => new()
    {
        ListenAddress = ListenAddress,
        PrivilegedPortOffset = PortOffset,
        StubStatusPort = StubStatusPort,
    };
}

internal static class AgentOptionsExtensions
{
    public static void AddAgentOptions(this IHostApplicationBuilder builder)
    {
        builder.Configuration.AddEnvironmentVariables("NXMESH_");
        builder.Services.AddOptions<AgentOptions>()
            .Bind(builder.Configuration.GetSection(AgentOptions.SectionName))
            .Validate(o => o.PortOffset is >= 0 and < 64512, "Agent:PortOffset must be between 0 and 64511.")
            .Validate(o => o.StubStatusPort is > 0 and < 65536, "Agent:StubStatusPort must be a TCP port.")
            .ValidateOnStart();
    }
}
