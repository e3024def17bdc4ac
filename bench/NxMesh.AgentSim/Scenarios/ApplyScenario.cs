using System.Diagnostics;
using System.Globalization;
using NxMesh.AgentSim.Report;
using NxMesh.AgentSim.Rest;
using NxMesh.AgentSim.Stack;

namespace NxMesh.AgentSim.Scenarios;

/// <summary>
/// Apply overhead on real nginx: one real NxMesh.Agent (Release build) supervising its own nginx, enrolled with a
/// token, given 10 / 100 / 1,000 server blocks through REST. Each measured apply is a PATCH of the upstream those
/// blocks use; the agent's PENDING → SUCCESS (render, nginx -t, swap, HUP, new workers confirmed) comes from
/// config_apply_history. The floor is `nginx -t` then `nginx -s reload` of the very config the agent rendered, run
/// against the same nginx in the same run.
/// </summary>
internal sealed partial class ApplyScenario(BenchOptions options, BenchReport report, Action<string> log)
{
    private const string Nginx = "/usr/sbin/nginx";

    public async Task RunAsync(BenchStack stack, NxMeshApi api, string logs)
    {
        var state = Path.Combine(Path.GetTempPath(), "nxmesh-bench-agent-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(state);
        var prefix = Path.Combine(state, "nginx");
        var (token, agentId) = (await api.CreateTokensAsync(1, "apply-agent", new Dictionary<string, string> { ["bench"] = "apply" }, _ => "apply"))[0];
        var address = $"127.0.{Random.Shared.Next(100, 250)}.{Random.Shared.Next(2, 250)}";
        var directory = stack.ServiceDirectory("NxMesh.Agent");
        var dll = Path.Combine(directory, "NxMesh.Agent.dll");
        if (!File.Exists(dll))
        {
            throw new InvalidOperationException($"{dll} is missing: build NxMesh.Agent -c Release (./nxmesh.sh bench does).");
        }
        await using var agent = ServiceProcess.Start("dotnet", [dll,
            "--master-url", stack.AgentHubUrl.ToString().TrimEnd('/'),
            "--registration-token", token,
            "--state-dir", state,
            "--nginx-binary", Nginx,
            "--nginx-prefix", prefix,
            "--listen-address", address,
            "--stub-status-port", FreePort().ToString(CultureInfo.InvariantCulture),
            "--log-format", "text"],
            new Dictionary<string, string> { ["DOTNET_ENVIRONMENT"] = "Production" }, directory, Path.Combine(logs, "NxMesh.Agent.log"));
        try
        {
            var upstreamId = await api.CreateUpstreamAsync("apply-backend", ["127.0.0.1:9100"]);
            var blocks = 0;
            var patches = 0;
            string? applied = null;
            foreach (var size in options.ApplyBlocks.Order())
            {
                log($"Apply: {size} server blocks on real nginx (agent on {address}) ...");
                var toCreate = Enumerable.Range(blocks, size - blocks).ToList();
                await Parallel.ForEachAsync(toCreate, new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (i, _) =>
                    await api.CreateVirtualHostAsync($"apply-{i:D4}", $"a{i:D4}.bench.example", 80, upstreamId, "bench=apply"));
                blocks = size;
                // Past the outbox poll and the debounce: the next wait sees the config with every block.
                await Task.Delay(TimeSpan.FromSeconds(2));
                applied = await WaitAppliedAsync(stack, agentId, agent, TimeSpan.FromMinutes(5), applied);
                var agentTimes = new List<double>();
                var bareTimes = new List<double>();
                var stageTimes = new List<ApplyStageTimes>();
                for (var r = 0; r < options.ApplyRepeats; r++)
                {
                    // Spaced beyond the agent's minimum reload interval (1 s) and the old workers' exit.
                    await Task.Delay(TimeSpan.FromSeconds(2));
                    patches++;
                    await api.PatchUpstreamAsync(upstreamId, [$"127.0.0.1:{9100 + patches}"]);
                    applied = await WaitAppliedAsync(stack, agentId, agent, TimeSpan.FromMinutes(2), applied);
                    agentTimes.Add(await stack.ScalarAsync(
                        $"SELECT duration_ms FROM config_apply_history WHERE agent_id = '{agentId}' AND config_id = '{applied}' AND status = 'success' ORDER BY id DESC LIMIT 1"));
                    if (AgentStages(agent.LogFile, applied) is { } stages)
                    {
                        stageTimes.Add(stages);
                    }
                    await Task.Delay(TimeSpan.FromSeconds(2));
                    bareTimes.Add(await BareReloadAsync(prefix));
                }
                var rendered = RenderedBytes(prefix);
                var agentDistribution = Distribution.Of(agentTimes);
                var bareDistribution = Distribution.Of(bareTimes);
                var untilHup = Distribution.Of(stageTimes.Select(t => t.UntilHupMilliseconds).ToList());
                var confirmation = Distribution.Of(stageTimes.Select(t => t.ConfirmationMilliseconds).ToList());
                report.Apply.Add(new ApplyResult(size, rendered, agentDistribution, bareDistribution,
                    Ratio.Of(agentDistribution.P50, bareDistribution.P50), agentTimes, bareTimes,
                    stageTimes.Count > 0 ? untilHup : null, stageTimes.Count > 0 ? confirmation : null, stageTimes));
                log($"Apply: {size} blocks: agent p50 {agentDistribution.P50} ms (up to HUP {untilHup.P50:0.#}, confirmation {confirmation.P50:0.#}), bare p50 {bareDistribution.P50} ms");
            }
        }
        finally
        {
            await agent.StopAsync();
            try
            {
                Directory.Delete(state, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>Waits until the agent applied (SUCCESS) its desired config, which differs from <paramref name="previous"/>.</summary>
    private static async Task<string> WaitAppliedAsync(BenchStack stack, Guid agentId, ServiceProcess agent, TimeSpan timeout, string? previous)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        // Give the outbox relay and the debounce a moment, so the desired config reflects the last request.
        await Task.Delay(TimeSpan.FromMilliseconds(600));
        while (Stopwatch.GetTimestamp() < deadline)
        {
            if (agent.HasExited)
            {
                throw new BenchFailure("The real agent exited:\n" + agent.LogTail());
            }
            var synced = await stack.ScalarAsync(
                $"SELECT count(*) FROM agents WHERE id = '{agentId}' AND desired_config_id IS NOT NULL AND applied_config_id = desired_config_id AND last_apply_status = 'success'" +
                (previous is null ? "" : $" AND applied_config_id <> '{previous}'"));
            if (synced == 1)
            {
                using var connection = new Npgsql.NpgsqlConnection(stack.ConnectionString);
                await connection.OpenAsync();
                await using var command = new Npgsql.NpgsqlCommand($"SELECT applied_config_id FROM agents WHERE id = '{agentId}'", connection);
                return (string)(await command.ExecuteScalarAsync())!;
            }
            await Task.Delay(100);
        }
        throw new BenchFailure("The real agent did not apply its desired config in time:\n" + agent.LogTail());
    }

    /// <summary>`nginx -t` then `nginx -s reload` of the live config, as an operator would run them; ms for both.</summary>
    private static async Task<double> BareReloadAsync(string prefix)
    {
        var config = Path.Combine(prefix, "conf", "nginx.conf");
        var started = Stopwatch.GetTimestamp();
        await RunAsync(Nginx, "-t", "-q", "-p", prefix + "/", "-c", config);
        await RunAsync(Nginx, "-s", "reload", "-p", prefix + "/", "-c", config);
        return Math.Round(Stopwatch.GetElapsedTime(started).TotalMilliseconds, 3);
    }

    private static async Task RunAsync(string command, params string[] arguments)
    {
        var start = new ProcessStartInfo(command) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        await process.StandardOutput.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(cts.Token);
        if (process.ExitCode != 0)
        {
            throw new BenchFailure($"{command} {string.Join(' ', arguments)} failed: {await error}");
        }
    }

    /// <summary>The agent's stage timings of the apply of <paramref name="configId"/>, from its log (the last such line).</summary>
    internal static ApplyStageTimes? AgentStages(string logFile, string configId)
    {
        string text;
        try
        {
            using var stream = new FileStream(logFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            text = new StreamReader(stream).ReadToEnd();
        }
        catch (IOException)
        {
            return null;
        }
        var match = StageLine().Matches(text).LastOrDefault(m => m.Groups["id"].Value == configId);
        if (match is null)
        {
            return null;
        }
        var stages = new Dictionary<string, double>();
        foreach (var pair in match.Groups["stages"].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = pair.Split('=');
            if (parts.Length == 2 && double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var ms))
            {
                stages[parts[0]] = ms;
            }
        }
        return new ApplyStageTimes(configId, double.Parse(match.Groups["total"].Value, CultureInfo.InvariantCulture), stages);
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"config (?<id>[0-9a-f]+) v\d+ stages in ms: total=(?<total>[0-9.]+) (?<stages>[a-z_=0-9. ]*)")]
    private static partial System.Text.RegularExpressions.Regex StageLine();

    private static int RenderedBytes(string prefix)
    {
        var conf = new DirectoryInfo(Path.Combine(prefix, "conf"));
        var target = conf.ResolveLinkTarget(returnFinalTarget: true) as DirectoryInfo ?? conf;
        return (int)target.EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length);
    }

    private static int FreePort() => NxMesh.AppHost.Local.LocalDataDirectory.FreeTcpPort();
}
