using NxMesh.Agent.Apply;
using NxMesh.Agent.Cli;
using NxMesh.Agent.Commands;
using NxMesh.Agent.Health;
using NxMesh.Agent.Master;
using NxMesh.Agent.Nginx;
using NxMesh.Agent.Telemetry;
using NxMesh.Agent.Upstreams;

namespace NxMesh.Agent;

/// <summary>The agent's composition: configuration, nginx control, apply, health, commands, probes, master link.</summary>
public static class AgentHost
{
    public static HostApplicationBuilder CreateBuilder(AgentCommandLine.Parsed commandLine)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = commandLine.PassThrough });
        builder.AddAgentConfiguration(commandLine);
        builder.AddServiceDefaults();
        builder.AddAgentLogging();
        builder.AddNginxControl();
        builder.AddConfigApply();
        builder.AddHealthReporting();
        builder.AddCommands();
        builder.AddUpstreamProbes();
        builder.AddMasterConnection();
        builder.AddTelemetry();
        return builder;
    }

    private static void AddAgentConfiguration(this HostApplicationBuilder builder, AgentCommandLine.Parsed commandLine)
    {
        // Lowest to highest: appsettings, NXMESH_* variables, Agent__*/NXMESH_Agent__* variables, flags.
        builder.Configuration.AddInMemoryCollection(commandLine.FromEnvironment);
        builder.Configuration.AddEnvironmentVariables("NXMESH_");
        builder.Configuration.AddEnvironmentVariables();
        builder.Configuration.AddInMemoryCollection(commandLine.FromFlags);
        builder.Configuration.AddCommandLine(commandLine.PassThrough);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddOptions<AgentOptions>()
            .Bind(builder.Configuration.GetSection(AgentOptions.SectionName))
            .Validate(o => !o.Validate().Any(), "Invalid Agent options (see --help).")
            .ValidateOnStart();
        builder.Services.AddSingleton(sp => sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<AgentOptions>>().Value);
    }

    private static void AddAgentLogging(this HostApplicationBuilder builder)
    {
        var format = builder.Configuration[$"{AgentOptions.SectionName}:LogFormat"] ?? "json";
        if (string.Equals(format, "json", StringComparison.OrdinalIgnoreCase))
        {
            builder.Logging.AddJsonConsole(o => o.UseUtcTimestamp = true);
        }
    }

    private static void AddNginxControl(this HostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<NginxLayout>();
        builder.Services.AddSingleton<NginxBuild>();
        builder.Services.AddSingleton<NginxGate>();
        builder.Services.AddSingleton<ConfigChecker>();
        builder.Services.AddSingleton<NginxReloader>();
        builder.Services.AddSingleton<INginxControl>(sp => sp.GetRequiredService<AgentOptions>().EffectiveControlMode == NginxControlMode.External
            ? ActivatorUtilities.CreateInstance<ExternalNginx>(sp)
            : ActivatorUtilities.CreateInstance<SupervisedNginx>(sp));
        builder.Services.AddHostedService<NginxHostedService>();
        // Leave room for the graceful nginx stop inside the host's shutdown window.
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(30));
    }

    private static void AddConfigApply(this HostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<IConfigRenderer, LibraryConfigRenderer>();
        builder.Services.AddSingleton<ReleaseStore>();
        builder.Services.AddSingleton<LastKnownGoodStore>();
        builder.Services.AddSingleton<ConfigApplier>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ConfigApplier>());
    }

    private static void AddHealthReporting(this HostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<AgentOutbox>();
        builder.Services.AddSingleton<LocalFacts>();
        builder.Services.AddSingleton<HealthCollector>();
        builder.Services.AddHostedService<HealthReporter>();
    }

    private static void AddCommands(this HostApplicationBuilder builder) =>
        builder.Services.AddSingleton<CommandHandler>();

    private static void AddUpstreamProbes(this HostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<UpstreamProber>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<UpstreamProber>());
    }

    private static void AddTelemetry(this HostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<TelemetryBuffer>();
        builder.Services.AddSingleton<TelemetryService>();
        // Registered after the master connection, so it stops first and spools what is still unacked.
        builder.Services.AddHostedService(sp => sp.GetRequiredService<TelemetryService>());
    }

    private static void AddMasterConnection(this HostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<AgentIdentityStore>();
        builder.Services.AddSingleton<MasterConnection>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<MasterConnection>());
    }
}
