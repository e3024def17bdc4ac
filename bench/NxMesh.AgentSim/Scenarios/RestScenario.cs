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
        var cpu = new CpuWindow(() => [stack.Api.Pid]);
        var postgres = new CpuWindow(() => stack.PostmasterPid is { } p ? ProcStats.WithChildren(p) : []);
        var start = new ProcessStartInfo("npx") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { "--yes", AutocannonPackage, "--json", "--connections", options.RestConnections.ToString(CultureInfo.InvariantCulture),
            "--duration", options.RestSeconds.ToString(CultureInfo.InvariantCulture), "--headers", $"authorization=Bearer {api.AccessToken}", url.ToString() })
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start) ?? throw new InvalidOperationException("npx could not start.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(options.RestSeconds + 180)))
        {
            await process.WaitForExitAsync(cts.Token);
        }
        var apiCpu = cpu.PercentOfOneCore();
        var postgresCpu = postgres.PercentOfOneCore();
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
            Math.Round(apiCpu, 1), Math.Round(postgresCpu, 1), ProcStats.RssBytes(stack.Api.Pid));
        log($"REST: {rest.RequestsPerSecond} requests/s, p99 {rest.LatencyP99Milliseconds} ms, non-2xx {rest.Non2xx}, errors {rest.Errors}");
        if (rest.Non2xx > 0 || rest.RequestsPerSecond == 0)
        {
            throw new BenchFailure($"REST: {rest.Non2xx} answers were not 2xx, {rest.Errors} requests failed (autocannon's 10 s timeout), {rest.RequestsPerSecond} requests/s completed.");
        }
        return rest;
    }
}
