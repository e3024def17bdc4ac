using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using NxMesh.AgentSim.Report;
using NxMesh.AgentSim.Rest;
using NxMesh.AgentSim.Stack;

namespace NxMesh.AgentSim.Scenarios;

/// <summary>
/// GET /v1/workspaces/{id}/agents?label_selector=bench=sim,shard=0 (a tenth of 10,000 simulated agents, first page of
/// 20) driven by autocannon (npm) with the operator's JWT, while the Api's and Postgres' CPU are sampled.
/// </summary>
internal static class RestScenario
{
    public const string AutocannonPackage = "autocannon@9.0.0";

    public static async Task<RestResult> RunAsync(BenchStack stack, NxMeshApi api, BenchOptions options, Action<string> log)
    {
        // The 10,000 rows were created seconds ago. Autovacuum would, within its naptime (60 s), gather statistics
        // and merge the GIN index's pending list (fastupdate: fresh entries sit in a list every index scan reads in
        // full); until then each request cost Postgres 5-9 ms instead of ~1.5. Measure the steady state.
        await stack.ScalarAsync("VACUUM ANALYZE agents");
        var selector = "bench%3Dsim%2Cshard%3D0";
        var url = new Uri(stack.ApiUrl, $"/v1/workspaces/{api.WorkspaceId}/agents?label_selector={selector}&per_page=20");
        var first = await api.GetAsync($"workspaces/{api.WorkspaceId}/agents?label_selector={selector}&per_page=20");
        var matching = first["meta"]!["total"]!.GetValue<int>();
        var all = (await api.GetAsync($"workspaces/{api.WorkspaceId}/agents?per_page=1"))["meta"]!["total"]!.GetValue<int>();
        log($"REST: autocannon {options.RestConnections} connections for {options.RestSeconds} s on GET {url.PathAndQuery} ({matching} of {all} agents match) ...");
        // Where the 2 cores go: first a quiet window with no REST load (what Postgres, AgentHub and the rest burn on their
        // own: autovacuum, the fleet's last writes), then the same processes while autocannon runs.
        var quietSeconds = Math.Max(3, options.WindowSeconds);
        var quiet = await CpuSplit.OpenAsync(stack, null);
        await Task.Delay(TimeSpan.FromSeconds(quietSeconds));
        var quietShares = await quiet.CloseAsync(stack);
        var start = new ProcessStartInfo("npx") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { "--yes", AutocannonPackage, "--json", "--connections", options.RestConnections.ToString(CultureInfo.InvariantCulture),
            "--duration", options.RestSeconds.ToString(CultureInfo.InvariantCulture), "--headers", $"authorization=Bearer {api.AccessToken}", url.ToString() })
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start) ?? throw new InvalidOperationException("npx could not start.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        // The load window opens a second after npx has resolved the package and started autocannon (its first child)
        // and closes two seconds before autocannon's duration ends, so start-up and the summary stay outside it.
        var launched = Stopwatch.StartNew();
        while (ProcStats.WithDescendants(process.Id).Count < 2 && !process.HasExited && launched.Elapsed < TimeSpan.FromSeconds(60))
        {
            await Task.Delay(100);
        }
        await Task.Delay(TimeSpan.FromSeconds(1));
        var load = await CpuSplit.OpenAsync(stack, process.Id);
        await Task.Delay(TimeSpan.FromSeconds(Math.Max(1, options.RestSeconds - 3)));
        var loadShares = await load.CloseAsync(stack);
        using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(options.RestSeconds + 180)))
        {
            await process.WaitForExitAsync(cts.Token);
        }
        var output = await stdout;
        var jsonStart = output.IndexOf('{', StringComparison.Ordinal);
        if (process.ExitCode != 0 || jsonStart < 0)
        {
            throw new BenchFailure($"autocannon failed ({process.ExitCode}): {await stderr}\n{output}");
        }
        var result = JsonNode.Parse(output[jsonStart..])!;
        var rest = new RestResult("autocannon " + AutocannonPackage.Split('@')[1], url.PathAndQuery, all, matching, options.RestConnections,
            result["duration"]!.GetValue<double>(), result["requests"]!["average"]!.GetValue<double>(),
            result["latency"]!["p50"]!.GetValue<double>(), result["latency"]!["p99"]!.GetValue<double>(), result["latency"]!["max"]!.GetValue<double>(),
            result["non2xx"]!.GetValue<long>(), result["errors"]!.GetValue<long>(),
            Math.Round(loadShares.Percent("Api"), 1), Math.Round(loadShares.Percent("Postgres"), 1), ProcStats.RssBytes(stack.Api.Pid))
        {
            Cpu = CpuSplit.Shares(quietShares, loadShares, result["requests"]!["average"]!.GetValue<double>()),
            QuietSeconds = quietShares.Seconds,
            LoadSeconds = loadShares.Seconds,
            PostgresTransactionsPerSecondQuiet = Math.Round(quietShares.Transactions / quietShares.Seconds, 1),
            PostgresTransactionsPerSecondLoad = Math.Round(loadShares.Transactions / loadShares.Seconds, 1),
        };
        log($"REST: {rest.RequestsPerSecond} requests/s, p99 {rest.LatencyP99Milliseconds} ms, non-2xx {rest.Non2xx}, errors {rest.Errors}");
        foreach (var share in rest.Cpu)
        {
            log($"  {share.Process}: {share.QuietPercentOfOneCore} % quiet, {share.LoadPercentOfOneCore} % under load, {share.MillisecondsPerRequest} ms/request ({share.MillisecondsPerRequestAboveQuiet} above quiet)");
        }
        if (rest.Non2xx > 0 || rest.RequestsPerSecond == 0)
        {
            throw new BenchFailure($"REST: {rest.Non2xx} answers were not 2xx, {rest.Errors} requests failed (autocannon's 10 s timeout), {rest.RequestsPerSecond} requests/s completed.");
        }
        return rest;
    }
}

/// <summary>CPU windows over the processes that share the machine during the REST scenario, plus the whole machine.</summary>
internal sealed class CpuSplit
{
    private readonly List<(string Name, CpuWindow Window)> _windows = [];
    private readonly Stopwatch _elapsed = Stopwatch.StartNew();
    private long _transactions;

    public static async Task<CpuSplit> OpenAsync(BenchStack stack, int? autocannon)
    {
        var split = new CpuSplit { _transactions = await stack.ScalarAsync(TransactionsSql) };
        split._windows.Add(("Api", new CpuWindow(() => [stack.Api.Pid])));
        split._windows.Add(("Postgres", new CpuWindow(() => stack.PostmasterPid is { } p ? ProcStats.WithChildren(p) : [])));
        split._windows.Add(("AgentHub", new CpuWindow(() => [stack.AgentHub.Pid])));
        split._windows.Add(("simulator (this process)", new CpuWindow(() => [Environment.ProcessId])));
        if (autocannon is { } pid)
        {
            split._windows.Add(("autocannon (npx and node)", new CpuWindow(() => ProcStats.WithDescendants(pid))));
        }
        split._windows.Add((Machine, new CpuWindow(ProcStats.MachineBusySeconds)));
        return split;
    }

    public const string Machine = "machine (both cores, every process)";

    /// <summary>Transactions committed or rolled back in the NxMesh database (every backend: Api, AgentHub, this probe).</summary>
    private const string TransactionsSql = "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()";

    public async Task<Measured> CloseAsync(BenchStack stack)
    {
        var percents = _windows.ToDictionary(w => w.Name, w => w.Window.PercentOfOneCore(), StringComparer.Ordinal);
        var seconds = _elapsed.Elapsed.TotalSeconds;
        var transactions = await stack.ScalarAsync(TransactionsSql) - _transactions;
        return new Measured(percents, seconds, transactions);
    }

    /// <summary>One row per process: both windows, and CPU milliseconds per request (total, and above the quiet window).</summary>
    public static IReadOnlyList<RestCpuShare> Shares(Measured quiet, Measured load, double requestsPerSecond)
    {
        var rows = new List<RestCpuShare>();
        var named = 0.0;
        var namedQuiet = 0.0;
        foreach (var (name, percent) in load.Percents)
        {
            var idle = quiet.Percents.GetValueOrDefault(name);
            if (name != Machine)
            {
                named += percent;
                namedQuiet += idle;
            }
            rows.Add(Row(name, idle, percent, requestsPerSecond));
        }
        var machine = load.Percents[Machine];
        rows.Add(Row("others (machine − the above: other helpers' work)", quiet.Percents[Machine] - namedQuiet, machine - named, requestsPerSecond));
        return rows;
    }

    private static RestCpuShare Row(string name, double quiet, double load, double requestsPerSecond) => new(name, Math.Round(quiet, 1), Math.Round(load, 1),
        requestsPerSecond > 0 ? Math.Round(load / 100 * 1000 / requestsPerSecond, 3) : null,
        requestsPerSecond > 0 ? Math.Round((load - quiet) / 100 * 1000 / requestsPerSecond, 3) : null);

    public sealed record Measured(Dictionary<string, double> Percents, double Seconds, long Transactions)
    {
        public double Percent(string name) => Percents.GetValueOrDefault(name);
    }
}
