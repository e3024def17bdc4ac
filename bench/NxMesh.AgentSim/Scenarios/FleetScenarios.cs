using System.Diagnostics;
using NxMesh.AgentSim.Rest;
using NxMesh.AgentSim.Report;
using NxMesh.AgentSim.Sim;
using NxMesh.AgentSim.Stack;

namespace NxMesh.AgentSim.Scenarios;

/// <summary>
/// Capacity, propagation and the reconnect storm, run the same way against AgentHub and against the floor server:
/// agents are added step by step (1k → 5k → 10k), each step measured, changes propagated at the chosen steps.
/// </summary>
internal sealed class FleetScenarios(BenchOptions options, BenchReport report, Action<string> log, Action checkpoint)
{
    private static readonly TimeSpan BatchTimeout = TimeSpan.FromSeconds(90);

    public async Task RunAgentHubAsync(BenchStack stack, NxMeshApi api, IReadOnlyList<string> tokens)
    {
        var upstreamId = await api.CreateUpstreamAsync("bench-backend", ["127.0.0.1:9000"]);
        await api.CreateVirtualHostAsync("bench-site", "bench.example.com", 80, upstreamId, labelSelector: "bench=sim");
        var rssBaseline = ProcStats.RssBytes(stack.AgentHub.Pid);
        var settings = new SimSettings(TimeSpan.FromMilliseconds(options.ApplyMilliseconds), []);
        await using var fleet = new SimFleet(stack.AgentHubUrl, settings, TimeSpan.FromSeconds(options.HealthIntervalSeconds), log);
        var patches = 0;
        foreach (var n in options.Steps)
        {
            log($"AgentHub: connecting agents up to {n} ...");
            var (registered, elapsed) = await fleet.AddAsync([.. tokens.Skip(fleet.Agents.Count).Take(n - fleet.Agents.Count)], options.BatchSize, BatchTimeout);
            var connected = fleet.Agents.Count(a => a.Connected);
            RequireAll("AgentHub", n, connected, fleet);
            log($"AgentHub: {connected} agents connected ({registered} registered, this step took {elapsed.TotalSeconds:F1} s); waiting until all are in sync ...");
            var syncStarted = Stopwatch.GetTimestamp();
            var synced = await WaitInSyncAsync(stack, n, null, TimeSpan.FromSeconds(120 + (n / 50)));
            if (synced < n)
            {
                // Recorded, not fatal: the figures of the connected fleet still stand, and the note says who lagged.
                var lagging = fleet.Agents.Where(a => a.AppliedConfigId.Length == 0 || !a.Connected)
                    .GroupBy(a => a.LastError ?? (a.Connected ? "connected, no config applied" : "not connected")).Take(3).Select(g => $"{g.Count()}× {g.Key}");
                report.Notes.Add($"AgentHub at {n} agents: only {synced} of {n} were in sync (database) after {Stopwatch.GetElapsedTime(syncStarted).TotalSeconds:F0} s; simulator side: {string.Join("; ", lagging)}.");
                log(report.Notes[^1]);
            }
            else
            {
                log($"AgentHub: all {n} in sync after {Stopwatch.GetElapsedTime(syncStarted).TotalSeconds:F1} s more");
            }
            checkpoint();
            if (options.Scenarios.Contains("capacity") && options.Capacity.Contains(n))
            {
                report.Capacity.Add(await MeasureAsync("agenthub", n, connected, elapsed, stack.AgentHub.Pid, rssBaseline, fleet,
                    stack.PostmasterPid, () => stack.ScalarAsync("SELECT coalesce(max(id), 0) FROM health_snapshots")));
            }
            if (options.Propagation.Contains(n))
            {
                // The first change of the run is a warm-up, not measured (the Api's write path and the hub's push
                // path run for the first time: JIT, EF query compilation); the floor gets a warm-up broadcast too.
                for (var measured = patches > 0; ; measured = true)
                {
                    patches++;
                    await PropagateAsync("agenthub", n, fleet, 0,
                        () => api.PatchUpstreamAsync(upstreamId, [$"127.0.0.1:{9000 + patches}"]),
                        configId => stack.ScalarAsync($"SELECT count(*) FROM agents WHERE state = 'online' AND applied_config_id = '{configId}' AND desired_config_id = '{configId}'"),
                        measured);
                    if (measured)
                    {
                        break;
                    }
                }
                checkpoint();
            }
        }
        if (options.Scenarios.Contains("reconnect"))
        {
            report.Reconnect = await ReconnectStormAsync(stack, fleet);
        }
        log("AgentHub: disconnecting the simulated agents ...");
    }

    public async Task RunFloorAsync(string logs, int messageBytes)
    {
        var grpcPort = FreePort();
        var controlPort = FreePort();
        var dll = typeof(FleetScenarios).Assembly.Location;
        await using var floor = ServiceProcess.Start("dotnet", [dll, "floor", "--grpc-port", $"{grpcPort}", "--control-port", $"{controlPort}"],
            new Dictionary<string, string>(), Path.GetDirectoryName(dll)!, Path.Combine(logs, "floor.log"));
        using var control = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{controlPort}"), Timeout = TimeSpan.FromSeconds(60) };
        await NxMesh.Testing.Wait.UntilAsync(async () => (await control.GetAsync("/stats")).IsSuccessStatusCode, TimeSpan.FromSeconds(60), "the floor server");
        var rssBaseline = ProcStats.RssBytes(floor.Pid);
        var settings = new SimSettings(TimeSpan.FromMilliseconds(options.ApplyMilliseconds), []);
        await using var fleet = new SimFleet(new Uri($"http://127.0.0.1:{grpcPort}"), settings, TimeSpan.FromSeconds(options.HealthIntervalSeconds), log);
        var broadcasts = 0;
        foreach (var n in options.Steps)
        {
            log($"Floor: connecting agents up to {n} ...");
            var (_, elapsed) = await fleet.AddAsync([.. Enumerable.Repeat("floor", n - fleet.Agents.Count)], options.BatchSize, BatchTimeout);
            var connected = fleet.Agents.Count(a => a.Connected);
            RequireAll("Floor", n, connected, fleet);
            if (options.Scenarios.Contains("capacity") && options.Capacity.Contains(n))
            {
                report.Capacity.Add(await MeasureAsync("floor", n, connected, elapsed, floor.Pid, rssBaseline, fleet, null, null));
                checkpoint();
            }
            if (options.Propagation.Contains(n))
            {
                for (var measured = broadcasts > 0; ; measured = true)
                {
                    broadcasts++;
                    await PropagateAsync("floor", n, fleet, messageBytes,
                        async () => (await control.PostAsync($"/broadcast?bytes={messageBytes}", null)).EnsureSuccessStatusCode(), null, measured);
                    if (measured)
                    {
                        break;
                    }
                }
                checkpoint();
            }
        }
        log("Floor: disconnecting the simulated agents ...");
    }

    private static void RequireAll(string target, int requested, int connected, SimFleet fleet)
    {
        if (connected < requested)
        {
            var errors = fleet.Agents.Where(a => !a.Connected && a.LastError is not null).GroupBy(a => a.LastError).OrderByDescending(g => g.Count())
                .Take(3).Select(g => $"{g.Count()}× {g.Key}");
            throw new BenchFailure($"{target}: only {connected} of {requested} requested agents connected. Errors: {string.Join("; ", errors)}");
        }
    }

    private async Task<CapacityResult> MeasureAsync(string target, int n, int connected, TimeSpan connectTime, int pid, long rssBaseline,
        SimFleet fleet, int? postmaster, Func<Task<long>>? persistedCounter)
    {
        // Let the health ticker reach its steady state before the window opens.
        await Task.Delay(TimeSpan.FromSeconds(Math.Min(10, options.HealthIntervalSeconds * 1.5)));
        log($"{target}: measuring {n} agents for {options.WindowSeconds} s ...");
        var cpu = new CpuWindow(() => [pid]);
        var postgres = new CpuWindow(() => postmaster is { } p ? ProcStats.WithChildren(p) : []);
        var simulator = new CpuWindow(() => [Environment.ProcessId]);
        var sent0 = fleet.HealthSent;
        var persisted0 = persistedCounter is null ? 0 : await persistedCounter();
        var started = Stopwatch.GetTimestamp();
        await Task.Delay(TimeSpan.FromSeconds(options.WindowSeconds));
        var window = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var persisted = persistedCounter is null ? 0 : await persistedCounter() - persisted0;
        var rss = ProcStats.RssBytes(pid);
        var result = new CapacityResult(target, n, connected, Math.Round(connectTime.TotalSeconds, 2), rssBaseline, rss,
            Math.Round((double)(rss - rssBaseline) / n), Math.Round(cpu.PercentOfOneCore(), 1), Math.Round(window, 1),
            Math.Round((fleet.HealthSent - sent0) / window, 1), Math.Round(persisted / window, 1), Math.Round(postgres.PercentOfOneCore(), 1),
            Math.Round(simulator.PercentOfOneCore(), 1), ProcStats.RssBytes(Environment.ProcessId), ProcStats.LoadAverage1m());
        log($"{target}: {n} agents: RSS {rss / 1048576.0:F0} MiB, CPU {result.CpuPercentOfOneCore} % of one core, " +
            $"health {result.HealthSentPerSecond}/s sent, {result.HealthPersistedPerSecond}/s persisted");
        return result;
    }

    /// <summary>Adds the result to the report (an incomplete one too), then fails if not every agent received the change.</summary>
    /// <summary>One change to every agent, timed; a warm-up (<paramref name="measured"/> false) is waited for but not reported.</summary>
    private async Task PropagateAsync(string target, int n, SimFleet fleet, int messageBytes, Func<Task> change,
        Func<string, Task<long>>? inSyncCounter, bool measured)
    {
        log($"{target}: propagating a change to {n} agents{(measured ? "" : " (warm-up, not measured)")} ...");
        var agents = fleet.Agents;
        var t0 = Stopwatch.GetTimestamp();
        await change();
        var requestMs = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        var bound = 60 + (n * 0.03);
        var deadline = Stopwatch.GetTimestamp() + (long)(Stopwatch.Frequency * bound);
        while (Stopwatch.GetTimestamp() < deadline && agents.Any(a => a.SuccessSentAt <= t0))
        {
            await Task.Delay(20);
        }
        var receipts = agents.Where(a => a.UpdateReceivedAt > t0).Select(a => Ms(a.UpdateReceivedAt - t0)).ToList();
        var acks = agents.Where(a => a.SuccessSentAt > t0).Select(a => Ms(a.SuccessSentAt - t0)).ToList();
        double? inSync = null;
        if (inSyncCounter is not null && acks.Count == n)
        {
            var configId = agents[0].UpdateConfigId;
            while (Stopwatch.GetTimestamp() < deadline)
            {
                if (await inSyncCounter(configId) >= n)
                {
                    inSync = Math.Round(Stopwatch.GetElapsedTime(t0).TotalMilliseconds, 1);
                    break;
                }
                await Task.Delay(50);
            }
        }
        var size = messageBytes > 0 ? messageBytes : agents[0].LastUpdateSize;
        var result = new PropagationResult(target, n, size, Math.Round(requestMs, 1), Distribution.Of(receipts), Distribution.Of(acks),
            receipts.Count, acks.Count, inSync, ProcStats.LoadAverage1m(), receipts, acks);
        log($"{target}: {receipts.Count}/{n} received: p50 {result.Receipt.P50} ms, p99 {result.Receipt.P99} ms, max {result.Receipt.Max} ms; " +
            $"acknowledged max {result.Acknowledged.Max} ms; in sync (database) {inSync?.ToString() ?? "-"} ms");
        if (measured)
        {
            report.Propagation.Add(result);
        }
        if (receipts.Count < n)
        {
            throw new BenchFailure($"{target}: only {receipts.Count} of {n} agents received the change within {bound} s.");
        }
    }

    private async Task<ReconnectResult> ReconnectStormAsync(BenchStack stack, SimFleet fleet)
    {
        var n = fleet.Agents.Count;
        log($"Reconnect storm: killing AgentHub (SIGKILL) with {n} agents connected and starting it again ...");
        fleet.ExpectReconnect();
        var killedAt = Stopwatch.GetTimestamp();
        var killedWall = DateTimeOffset.UtcNow;
        await stack.KillAndRestartAgentHubAsync();
        await stack.WaitAgentHubHealthyAsync();
        var healthy = Stopwatch.GetElapsedTime(killedAt).TotalSeconds;
        var reconnected = await fleet.WaitAllRegisteredAsync(TimeSpan.FromSeconds(300));
        var perAgent = fleet.Agents.Where(a => a.Registered.IsCompletedSuccessfully && a.RegisteredAt > killedAt)
            .Select(a => Math.Round((a.RegisteredAt - killedAt) / (double)Stopwatch.Frequency, 3)).ToList();
        var allReconnected = perAgent.DefaultIfEmpty(0).Max();
        double? inSync = null;
        var deadline = Stopwatch.GetTimestamp() + (Stopwatch.Frequency * 300);
        var since = killedWall.ToString("O");
        while (reconnected == n && Stopwatch.GetTimestamp() < deadline)
        {
            var count = await stack.ScalarAsync($"SELECT count(*) FROM agents WHERE state = 'online' AND applied_config_id = desired_config_id AND last_seen_at > '{since}'");
            if (count >= n)
            {
                inSync = Math.Round(Stopwatch.GetElapsedTime(killedAt).TotalSeconds, 2);
                break;
            }
            await Task.Delay(200);
        }
        var result = new ReconnectResult(n, Math.Round(healthy, 2), reconnected, Math.Round(allReconnected, 2), inSync, Distribution.Of(perAgent),
            ProcStats.RssBytes(stack.AgentHub.Pid), perAgent);
        log($"Reconnect storm: AgentHub healthy after {result.RestartToHealthySeconds} s, {reconnected}/{n} reconnected after {result.AllReconnectedSeconds} s, " +
            $"all in sync after {inSync?.ToString() ?? "-"} s");
        if (reconnected < n)
        {
            throw new BenchFailure($"Reconnect storm: only {reconnected} of {n} agents reconnected within 300 s.");
        }
        return result;
    }

    private async Task<long> WaitInSyncAsync(BenchStack stack, int n, string? configId, TimeSpan timeout)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        var sql = "SELECT count(*) FROM agents WHERE state = 'online' AND applied_config_id = desired_config_id" +
            (configId is null ? "" : $" AND applied_config_id = '{configId}'");
        long count = 0;
        while (Stopwatch.GetTimestamp() < deadline)
        {
            count = await stack.ScalarAsync(sql);
            if (count >= n)
            {
                return count;
            }
            await Task.Delay(250);
        }
        return count;
    }

    private static double Ms(long ticks) => Math.Round(ticks * 1000.0 / Stopwatch.Frequency, 3);

    private static int FreePort() => NxMesh.AppHost.Local.LocalDataDirectory.FreeTcpPort();
}

/// <summary>The run cannot honour what was requested (e.g. fewer agents connected): the run fails loudly.</summary>
internal sealed class BenchFailure(string message) : Exception(message);
