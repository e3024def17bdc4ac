using System.Globalization;
using Npgsql;
using NxMesh.AppHost.Local;
using NxMesh.Testing;

namespace NxMesh.AgentSim.Stack;

/// <summary>
/// The local stack with the benchmark profile: Postgres and Redis as the local mode starts them (through the test
/// fixture that shares the AppHost's local-mode code), the migration service with the bootstrap seed, then Api and
/// AgentHub from their Release builds as separate processes, so each has its own PID for RSS/CPU and AgentHub can
/// be killed and restarted. Profile: Production environment, the Api rate limit raised, AgentHub timers at their
/// production defaults, no agent replicas (the simulator is the fleet).
/// </summary>
internal sealed class BenchStack : IAsyncDisposable
{
    public const string AdminEmail = "bench@nxmesh.local";
    public const string AdminPassword = "nxmesh-bench-password";

    private readonly string _repo;
    private readonly string _logs;
    private readonly DatabaseFixture _database = new();
    private readonly Dictionary<string, string> _common = new(StringComparer.Ordinal);
    private readonly Action<string> _log;

    private BenchStack(string repo, string logs, Action<string> log)
    {
        _repo = repo;
        _logs = logs;
        _log = log;
    }

    public ServiceProcess Api { get; private set; } = null!;
    public ServiceProcess AgentHub { get; private set; } = null!;
    public Uri ApiUrl { get; private set; } = null!;
    public Uri AgentHubUrl { get; private set; } = null!;
    public int AgentHubGrpcPort { get; private set; }
    public int AgentHubHttpPort { get; private set; }
    public string ConnectionString => _database.ConnectionString;
    public string RedisConnectionString => _database.RedisConnectionString;
    public int? PostmasterPid { get; private set; }

    public static async Task<BenchStack> StartAsync(string repo, string logs, Action<string> log)
    {
        var stack = new BenchStack(repo, logs, log);
        try
        {
            await stack.StartCoreAsync();
        }
        catch
        {
            // Whatever started before the failure is stopped by its PID, not left behind.
            await stack.DisposeAsync();
            throw;
        }
        return stack;
    }

    private async Task StartCoreAsync()
    {
        _log("Starting Postgres and Redis (local-mode settings) and applying migrations ...");
        await _database.InitializeAsync();
        var port = new NpgsqlConnectionStringBuilder(_database.ConnectionString).Port;
        PostmasterPid = ProcStats.Find("postgres", "-D", "-p " + port.ToString(CultureInfo.InvariantCulture));
        _common["ConnectionStrings__nxmesh"] = _database.ConnectionString;
        _common["ConnectionStrings__redis"] = _database.RedisConnectionString;
        _common["DataProtection__KeyEncryptionKey"] = LocalDataDirectory.RandomBase64(32);
        _common["ASPNETCORE_ENVIRONMENT"] = "Production";
        _common["DOTNET_ENVIRONMENT"] = "Production";

        _log("Seeding the bootstrap admin, organization and workspace (NxMesh.MigrationService) ...");
        var migrator = StartService("NxMesh.MigrationService", new Dictionary<string, string>
        {
            ["Bootstrap__AdminEmail"] = AdminEmail,
            ["Bootstrap__AdminPassword"] = AdminPassword,
            ["Bootstrap__OrganizationName"] = "Bench",
            ["Bootstrap__OrganizationSlug"] = "bench",
            ["Bootstrap__WorkspaceName"] = "Bench",
            ["Bootstrap__WorkspaceSlug"] = "bench",
        });
        if (!await migrator.WaitForExitAsync(TimeSpan.FromMinutes(3)) || migrator.ExitCode != 0)
        {
            throw new InvalidOperationException("The migration service failed:\n" + migrator.LogTail());
        }

        var apiPort = FreePort();
        ApiUrl = new Uri($"http://127.0.0.1:{apiPort}");
        Api = StartService("NxMesh.Api", new Dictionary<string, string>
        {
            ["ASPNETCORE_URLS"] = ApiUrl.ToString().TrimEnd('/'),
            // Benchmark profile: the REST scenario and the bulk token creation must not meet the 1000/min limit.
            ["RateLimiting__PermitLimit"] = "100000000",
        });
        AgentHubGrpcPort = FreePort();
        AgentHubHttpPort = FreePort();
        AgentHubUrl = new Uri($"http://127.0.0.1:{AgentHubGrpcPort}");
        AgentHub = StartAgentHub();
        await WaitHealthyAsync("Api", Api, new Uri(ApiUrl, "/health"));
        await WaitHealthyAsync("AgentHub", AgentHub, new Uri($"http://127.0.0.1:{AgentHubHttpPort}/health"));
    }

    private ServiceProcess StartAgentHub()
    {
        var environment = new Dictionary<string, string>
        {
            ["Kestrel__Endpoints__grpc__Url"] = $"http://127.0.0.1:{AgentHubGrpcPort}",
            ["Kestrel__Endpoints__http__Url"] = $"http://127.0.0.1:{AgentHubHttpPort}",
            // Runtime: AgentHub's own runtimeconfig (workstation non-concurrent GC, ConserveMemory 9, no dynamic PGO:
            // NxMesh.AgentHub.csproj) plus the settings only the environment carries, as the AppHost
            // sets them (ControlPlane.AddAgentHub): the benchmark measures the product default; BENCH_AGENTHUB_* overrides.
            ["DOTNET_GCgen0size"] = "0x1000000",
            ["MALLOC_ARENA_MAX"] = "2",
        };
        // Experiments with AgentHub's runtime settings (e.g. BENCH_AGENTHUB_DOTNET_GCgen0size=…) without touching the
        // simulator's or the Api's: the prefix is stripped and the rest passed to AgentHub only; the report lists them.
        foreach (var (key, value) in HubEnvironmentOverrides())
        {
            environment[key] = value;
        }
        return StartService("NxMesh.AgentHub", environment);
    }

    /// <summary>Environment variables <c>BENCH_AGENTHUB_*</c> of the benchmark, prefix stripped.</summary>
    public static SortedDictionary<string, string> HubEnvironmentOverrides()
    {
        var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (System.Collections.DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            if (entry.Key is string key && key.StartsWith(HubEnvironmentPrefix, StringComparison.Ordinal) && entry.Value is string value)
            {
                result[key[HubEnvironmentPrefix.Length..]] = value;
            }
        }
        return result;
    }

    public const string HubEnvironmentPrefix = "BENCH_AGENTHUB_";

    /// <summary>The reconnect storm: SIGKILL AgentHub, start it again at once on the same ports.</summary>
    public async Task<DateTimeOffset> KillAndRestartAgentHubAsync()
    {
        await AgentHub.KillAsync();
        await AgentHub.DisposeAsync();
        AgentHub = StartAgentHub();
        return AgentHub.StartedAt;
    }

    public Task WaitAgentHubHealthyAsync() => WaitHealthyAsync("AgentHub", AgentHub, new Uri($"http://127.0.0.1:{AgentHubHttpPort}/health"));

    public string ServiceDirectory(string project) => Path.Combine(_repo, project, "bin", "Release", "net10.0");

    private ServiceProcess StartService(string project, Dictionary<string, string> environment)
    {
        var directory = ServiceDirectory(project);
        var dll = Path.Combine(directory, project + ".dll");
        if (!File.Exists(dll))
        {
            throw new InvalidOperationException($"{dll} is missing: build it with dotnet build {project} -c Release (./nxmesh.sh bench does).");
        }
        foreach (var (key, value) in _common)
        {
            environment.TryAdd(key, value);
        }
        return ServiceProcess.Start("dotnet", [dll], environment, directory, Path.Combine(_logs, project + ".log"));
    }

    private static async Task WaitHealthyAsync(string name, ServiceProcess process, Uri health)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        await Wait.UntilAsync(async () =>
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"{name} exited:\n{process.LogTail()}");
            }
            try
            {
                using var response = await http.GetAsync(health);
                return response.IsSuccessStatusCode;
            }
            catch (TaskCanceledException)
            {
                // Slow to answer while it starts on a loaded machine: ask again.
                return false;
            }
        }, TimeSpan.FromMinutes(2), $"{name} healthy at {health}");
    }

    private static int FreePort() => NxMesh.AppHost.Local.LocalDataDirectory.FreeTcpPort();

    public async Task<long> ScalarAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(_database.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }

    public async ValueTask DisposeAsync()
    {
        if (AgentHub is not null)
        {
            await AgentHub.DisposeAsync();
        }
        if (Api is not null)
        {
            await Api.DisposeAsync();
        }
        await _database.DisposeAsync();
    }
}
