using System.Diagnostics;
using NxMesh.AgentSim.Report;
using NxMesh.AgentSim.Rest;
using NxMesh.AgentSim.Scenarios;
using NxMesh.AgentSim.Stack;

namespace NxMesh.AgentSim;

/// <summary>The whole run: stack up, AgentHub scenarios, floor scenarios, apply and REST, targets, reports.</summary>
internal static class BenchRunner
{
    public static async Task<int> RunAsync(BenchOptions options, string commandLine)
    {
        var report = new BenchReport
        {
            StartedAt = DateTimeOffset.UtcNow,
            Commit = await GitCommitAsync(options.Repo),
            Machine = $"{Environment.ProcessorCount} cores, {GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 1073741824.0:F0} GiB, {Environment.OSVersion}, .NET {Environment.Version}",
            LoadAverageAtStart = ProcStats.LoadAverages(),
            CommandLine = string.Concat(Stack.BenchStack.HubEnvironmentOverrides().Select(p => $"{Stack.BenchStack.HubEnvironmentPrefix}{p.Key}={p.Value} "))
                + "./nxmesh.sh bench " + commandLine["run".Length..].Trim(),
            HealthIntervalSeconds = options.HealthIntervalSeconds,
            SimulatedApplyMilliseconds = options.ApplyMilliseconds,
        };
        var clock = Stopwatch.StartNew();
        void Log(string line) => Console.WriteLine($"[{clock.Elapsed:mm\\:ss}] {line}");
        var logs = Path.Combine(options.Output, "logs", report.StartedAt.ToString("yyyyMMdd-HHmmss", System.Globalization.CultureInfo.InvariantCulture));
        Directory.CreateDirectory(logs);
        Log($"Benchmark: steps {string.Join(", ", options.Steps)} agents; scenarios {string.Join(", ", options.Scenarios)}; targets {string.Join(", ", options.Targets)}; load {report.LoadAverageAtStart}");
        var failed = false;
        // The report so far is rewritten after each scenario: a run stopped midway still leaves its figures.
        void Checkpoint()
        {
            report.FinishedAt = DateTimeOffset.UtcNow;
            report.LoadAverageAtEnd = ProcStats.LoadAverages();
            report.Targets.Clear();
            Targets.Evaluate(report);
            ReportWriter.Write(report, options.Output);
        }
        try
        {
            var fleet = new FleetScenarios(options, report, Log, Checkpoint);
            var messageBytes = 2048;
            await using var stack = await BenchStack.StartAsync(options.Repo, logs, Log);
            using var api = new NxMeshApi(stack.ApiUrl);
            await api.LoginAsync(BenchStack.AdminEmail, BenchStack.AdminPassword);
            var tokens = new List<string>();
            if (options.MaxAgents > 0 && (options.Targets.Contains("agenthub") || options.Scenarios.Contains("rest")))
            {
                Log($"Creating {options.MaxAgents} registration tokens through REST (100 per request) ...");
                var created = Stopwatch.StartNew();
                var pairs = await api.CreateTokensAsync(options.MaxAgents, "sim", new Dictionary<string, string> { ["bench"] = "sim" },
                    chunk => (chunk % 10).ToString(System.Globalization.CultureInfo.InvariantCulture));
                tokens = [.. pairs.Select(p => p.Token)];
                Log($"  {tokens.Count} tokens in {created.Elapsed.TotalSeconds:F1} s");
            }
            if (options.Targets.Contains("agenthub") && options.Steps.Count > 0)
            {
                await fleet.RunAgentHubAsync(stack, api, tokens);
                var measured = report.Propagation.FirstOrDefault(p => p.Target == "agenthub")?.MessageBytes;
                messageBytes = measured is > 0 ? measured.Value : messageBytes;
                Checkpoint();
            }
            // The floor runs next to the idle stack (its own process), before the shorter Api-side scenarios.
            if (options.Targets.Contains("floor") && options.Steps.Count > 0)
            {
                await fleet.RunFloorAsync(logs, messageBytes);
                Checkpoint();
            }
            if (options.Scenarios.Contains("rest"))
            {
                report.Rest = await RestScenario.RunAsync(stack, api, options, Log);
                Checkpoint();
            }
            if (options.Scenarios.Contains("apply"))
            {
                await new ApplyScenario(options, report, Log).RunAsync(stack, api, logs);
            }
        }
        catch (Exception ex)
        {
            failed = true;
            report.Notes.Insert(0, $"FAILED: {ex.Message}");
            Console.Error.WriteLine($"BENCHMARK FAILED: {ex}");
        }
        report.FinishedAt = DateTimeOffset.UtcNow;
        report.LoadAverageAtEnd = ProcStats.LoadAverages();
        report.Targets.Clear();
        Targets.Evaluate(report);
        var (json, markdown) = ReportWriter.Write(report, options.Output);
        Log($"Reports: {json}, {markdown} (service logs in {logs})");
        Console.WriteLine();
        Console.WriteLine(ReportWriter.Markdown(report));
        return failed ? 1 : 0;
    }

    private static async Task<string> GitCommitAsync(string repo)
    {
        try
        {
            var start = new ProcessStartInfo("git") { RedirectStandardOutput = true, UseShellExecute = false, WorkingDirectory = repo };
            start.ArgumentList.Add("describe");
            start.ArgumentList.Add("--always");
            start.ArgumentList.Add("--dirty");
            start.ArgumentList.Add("--abbrev=40");
            using var git = Process.Start(start)!;
            var text = (await git.StandardOutput.ReadToEndAsync()).Trim();
            await git.WaitForExitAsync();
            return text;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "unknown";
        }
    }
}
