using System.Collections;
using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using NxMesh.Agent.Apply;
using NxMesh.Agent.Cli;
using NxMesh.Agent.Commands;
using NxMesh.Agent.Master;
using NxMesh.Agent.Nginx;
using NxMesh.Protocol.V1;
using NxMesh.Testing;

namespace NxMesh.Agent.Tests;

/// <summary>
/// The real agent host (AgentHost.CreateBuilder) with real nginx in a temporary state folder on random loopback
/// ports; only the renderer is the test's. The base config's default server answers 404 on <see cref="BasePort"/>.
/// </summary>
internal sealed class TestAgent : IAsyncDisposable
{
    private readonly IHost _host;
    private readonly bool _keepState;
    private readonly List<AgentMessage> _messages = [];
    private readonly CancellationTokenSource _stopRecording = new();
    private Task _recorder = Task.CompletedTask;

    private TestAgent(IHost host, TestRenderer renderer, string stateDirectory, int basePort, int stubPort, bool keepState)
    {
        _host = host;
        Renderer = renderer;
        StateDirectory = stateDirectory;
        BasePort = basePort;
        StubPort = stubPort;
        _keepState = keepState;
    }

    private void StartRecording() => _recorder = Task.Run(async () =>
    {
        try
        {
            await foreach (var message in Outbox.ReadAllAsync(_stopRecording.Token))
            {
                lock (_messages)
                {
                    _messages.Add(message);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    });

    public TestRenderer Renderer { get; }
    public string StateDirectory { get; }
    public int BasePort { get; }
    public int StubPort { get; }
    public IServiceProvider Services => _host.Services;
    public ConfigApplier Applier => Services.GetRequiredService<ConfigApplier>();
    public CommandHandler Commands => Services.GetRequiredService<CommandHandler>();
    public INginxControl Control => Services.GetRequiredService<INginxControl>();
    public ChannelReader<AgentMessage> Outbox => Services.GetRequiredService<AgentOutbox>().Reader;
    public string Prefix => Path.Combine(StateDirectory, "nginx");
    public string ErrorLog => Path.Combine(Prefix, "logs", "error.log");

    public static async Task<TestAgent> StartAsync(
        string? stateDirectory = null, int? stubPort = null, bool keepState = false, bool record = true, bool productionRenderer = false,
        params string[] extraFlags)
    {
        stateDirectory ??= Path.Combine(Path.GetTempPath(), "nxmesh-agent-" + Guid.NewGuid().ToString("N")[..12]);
        var basePort = Ports.Free();
        var stub = stubPort ?? Ports.Free();
        var renderer = new TestRenderer(stub, basePort);
        string[] flags =
        [
            "--state-dir", stateDirectory,
            "--nginx-binary", NginxRunner.Binary,
            "--listen-address", "127.0.0.1",
            "--port-offset", (basePort - 80).ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--stub-status-port", stub.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--error-log-watch", "1",
            "--min-reload-interval-ms", "200",
            "--reload-timeout", "10",
            "--health-interval", "1",
            "--max-restart-backoff", "1",
            "--stop-timeout", "5",
            "--log-format", "text",
            .. extraFlags,
        ];
        var commandLine = AgentCommandLine.Parse(flags, new Hashtable());
        Assert.Empty(commandLine.Errors);
        var builder = AgentHost.CreateBuilder(commandLine);
        if (!productionRenderer)
        {
            builder.Services.AddSingleton<IConfigRenderer>(renderer);
        }
        var host = builder.Build();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await host.StartAsync(timeout.Token);
        var agent = new TestAgent(host, renderer, stateDirectory, basePort, stub, keepState);
        if (record)
        {
            agent.StartRecording();
        }
        return agent;
    }

    /// <summary>Every message the agent posted so far (recorded unless the test lets a master connection read them).</summary>
    public IReadOnlyList<AgentMessage> Messages
    {
        get
        {
            lock (_messages)
            {
                return [.. _messages];
            }
        }
    }

    public IReadOnlyList<ConfigStatus> Statuses(string configId) =>
        [.. Messages.Where(m => m.ConfigStatus?.ConfigId == configId).Select(m => m.ConfigStatus)];

    /// <summary>Submits through the coalescing queue and returns this config's statuses up to its (next) terminal one.</summary>
    public async Task<List<ConfigStatus>> ApplyAsync(ConfigUpdate update, TimeSpan? timeout = null)
    {
        var seen = Statuses(update.ConfigId).Count;
        Applier.Submit(update);
        return await StatusesUntilTerminalAsync(update.ConfigId, seen, timeout);
    }

    public async Task<List<ConfigStatus>> StatusesUntilTerminalAsync(string configId, int skip = 0, TimeSpan? timeout = null)
    {
        List<ConfigStatus> statuses = [];
        await Wait.UntilAsync(() =>
        {
            statuses = [.. Statuses(configId).Skip(skip)];
            return Task.FromResult(statuses.Any(s => s.Status is ConfigApplyStatus.Success or ConfigApplyStatus.Failed or ConfigApplyStatus.RolledBack));
        }, timeout ?? TimeSpan.FromSeconds(30), $"a terminal status of {configId}");
        return statuses;
    }

    public async Task<Event> EventAsync(string type, TimeSpan timeout, int skip = 0)
    {
        Event? found = null;
        await Wait.UntilAsync(() =>
        {
            found = Messages.Where(m => m.Event?.EventType == type).Skip(skip).Select(m => m.Event).FirstOrDefault();
            return Task.FromResult(found is not null);
        }, timeout, $"a {type} event");
        return found!;
    }

    public int MasterPid => Control.MasterPid ?? throw new InvalidOperationException("nginx is not running");

    public HashSet<int> Workers() => NginxProcesses.ChildrenOf(MasterPid).Where(NginxProcesses.IsActiveWorker).ToHashSet();

    public string? ActiveRelease => new DirectoryInfo(Path.Combine(Prefix, "conf")).LinkTarget;

    public async Task StopAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await _host.StopAsync(timeout.Token);
        await _stopRecording.CancelAsync();
        await _recorder;
    }

    public async ValueTask DisposeAsync()
    {
        // Whatever the test did, no nginx outlives it.
        var pid = Control.MasterPid;
        await StopAsync();
        if (pid is { } p && Signals.IsAlive(p))
        {
            await NginxStopping.TerminateAsync(p, graceful: false, TimeSpan.FromSeconds(5), () => !Signals.IsAlive(p));
        }
        _host.Dispose();
        if (!_keepState)
        {
            try
            {
                Directory.Delete(StateDirectory, recursive: true);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
            }
        }
    }
}

internal static class Ports
{
    public static int Free() => NxMesh.AppHost.Local.LocalDataDirectory.FreeTcpPort();
}
