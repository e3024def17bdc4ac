using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace NxMesh.AgentSim.Report;

/// <summary>Writes a run as <c>bench-&lt;time&gt;.json</c> (everything, raw per-agent timings included) and <c>.md</c> (the figures).</summary>
public static class ReportWriter
{
    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public static (string Json, string Markdown) Write(BenchReport report, string directory)
    {
        Directory.CreateDirectory(directory);
        var stem = Path.Combine(directory, "bench-" + report.StartedAt.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));
        File.WriteAllText(stem + ".json", JsonSerializer.Serialize(report, Json));
        File.WriteAllText(stem + ".md", Markdown(report));
        return (stem + ".json", stem + ".md");
    }

    public static string Markdown(BenchReport report)
    {
        var md = new StringBuilder();
        md.AppendLine(CultureInfo.InvariantCulture, $"# NxMesh fleet benchmark — {report.StartedAt:yyyy-MM-dd HH:mm} UTC");
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"- commit `{report.Commit}`; machine: {report.Machine}");
        md.AppendLine(CultureInfo.InvariantCulture, $"- load average (1/5/15 min) at start {report.LoadAverageAtStart}, at end {report.LoadAverageAtEnd} — the machine is shared with other builds, so figures carry that noise");
        md.AppendLine(CultureInfo.InvariantCulture, $"- health every {report.HealthIntervalSeconds} s per agent, simulated apply time {report.SimulatedApplyMilliseconds} ms; command: `{report.CommandLine}`");
        md.AppendLine(CultureInfo.InvariantCulture, $"- duration {(report.FinishedAt - report.StartedAt).TotalMinutes:F1} min; raw per-agent timings are in the JSON file beside this one");
        md.AppendLine();
        if (report.Targets.Count > 0)
        {
            md.AppendLine("## Targets");
            md.AppendLine();
            md.AppendLine("| target | measured | limit | ratio | verdict |");
            md.AppendLine("|---|---:|---:|---:|---|");
            foreach (var t in report.Targets)
            {
                md.AppendLine(CultureInfo.InvariantCulture, $"| {t.Name} | {F(t.Measured)} {t.Unit} | {t.Comparison} {F(t.Target)} {t.Unit} | {F(t.Ratio)} | {t.Verdict} |");
            }
            md.AppendLine();
        }
        if (report.Capacity.Count > 0)
        {
            md.AppendLine("## Capacity (connected agents, health persisted)");
            md.AppendLine();
            md.AppendLine("| target | agents | connect s | RSS MiB | RSS/agent KiB | CPU % of 1 core | health sent/s | persisted/s | Postgres CPU % | simulator CPU % | simulator RSS MiB | load 1m |");
            md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var c in report.Capacity.OrderBy(c => c.Requested).ThenBy(c => c.Target))
            {
                md.AppendLine(CultureInfo.InvariantCulture,
                    $"| {c.Target} | {c.Connected} | {F(c.ConnectSeconds)} | {F(c.RssBytes / 1048576.0)} | {F(c.RssPerAgentBytes / 1024)} | {F(c.CpuPercentOfOneCore)} | {F(c.HealthSentPerSecond)} | {F(c.HealthPersistedPerSecond)} | {F(c.PostgresCpuPercentOfOneCore)} | {F(c.SimulatorCpuPercentOfOneCore)} | {F(c.SimulatorRssBytes / 1048576.0)} | {F(c.LoadAverage1m)} |");
            }
            md.AppendLine();
            md.AppendLine("RSS/agent = (RSS with N agents − RSS before the first agent) / N. CPU = user+system time of the process over the window / wall time (100 % = one core).");
            md.AppendLine();
        }
        if (report.Propagation.Count > 0)
        {
            md.AppendLine("## Propagation (ms from the request until each agent received / acknowledged)");
            md.AppendLine();
            md.AppendLine("| target | agents | message bytes | request ms | receipt p50 | p99 | max | ack p50 | p99 | max | all in sync (database) ms |");
            md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var p in report.Propagation.OrderBy(p => p.Agents).ThenBy(p => p.Target))
            {
                md.AppendLine(CultureInfo.InvariantCulture,
                    $"| {p.Target} | {p.Agents} | {p.MessageBytes} | {F(p.RequestMilliseconds)} | {F(p.Receipt.P50)} | {F(p.Receipt.P99)} | {F(p.Receipt.Max)} | {F(p.Acknowledged.P50)} | {F(p.Acknowledged.P99)} | {F(p.Acknowledged.Max)} | {(p.AllInSyncMilliseconds is { } s ? F(s) : "–")} |");
            }
            md.AppendLine();
            md.AppendLine("agenthub: the REST PATCH of an upstream used by a virtual host that targets every agent (outbox → Redis → recompute → push). floor: one broadcast of a ConfigUpdate of the same size.");
            md.AppendLine();
        }
        if (report.Reconnect is { } r)
        {
            md.AppendLine("## Reconnect storm (AgentHub SIGKILL + restart)");
            md.AppendLine();
            md.AppendLine("| agents | healthy after s | reconnected | all reconnected s | reconnect p50 s | p99 s | all in sync s | AgentHub RSS after MiB |");
            md.AppendLine("|---:|---:|---:|---:|---:|---:|---:|---:|");
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {r.Agents} | {F(r.RestartToHealthySeconds)} | {r.Reconnected} | {F(r.AllReconnectedSeconds)} | {F(r.ReconnectSeconds.P50)} | {F(r.ReconnectSeconds.P99)} | {(r.AllInSyncSeconds is { } s ? F(s) : "–")} | {F(r.AgentHubRssAfterBytes / 1048576.0)} |");
            md.AppendLine();
            md.AppendLine("Seconds from the kill. Agents retry as the real agent does (1 s doubling to 30 s, ±20 % jitter); in sync = every agent online in the database with applied = desired config, seen by the new process.");
            md.AppendLine();
        }
        if (report.Apply.Count > 0)
        {
            md.AppendLine("## Apply overhead on real nginx");
            md.AppendLine();
            md.AppendLine("| server blocks | rendered KiB | agent apply p50 ms | max ms | bare `nginx -t && nginx -s reload` p50 ms | max ms | ratio (p50) | agent up to HUP p50 ms | confirmation p50 ms | ratio up to HUP |");
            md.AppendLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var a in report.Apply)
            {
                md.AppendLine(CultureInfo.InvariantCulture,
                    $"| {a.ServerBlocks} | {F(a.RenderedConfigBytes / 1024.0)} | {F(a.AgentApplyMilliseconds.P50)} | {F(a.AgentApplyMilliseconds.Max)} | {F(a.BareMilliseconds.P50)} | {F(a.BareMilliseconds.Max)} | {(a.Ratio is { } x ? F(x) : "–")} | {(a.AgentUntilHupMilliseconds is { } h ? F(h.P50) : "–")} | {(a.ConfirmationMilliseconds is { } c ? F(c.P50) : "–")} | {(a.AgentUntilHupMilliseconds is { } u && Ratio.Of(u.P50, a.BareMilliseconds.P50) is { } hupRatio ? F(hupRatio) : "–")} |");
            }
            md.AppendLine();
            md.AppendLine("Agent apply = PENDING → SUCCESS (`config_apply_history.duration_ms`), the headline. The agent's own stage timings (its log): *up to HUP* = render, write, `nginx -t` in a scratch prefix, swap — what the bare pair also covers; *confirmation* = HUP → a new worker generation runs and no old worker accepts, which the bare pair does not wait for (`nginx -s reload` returns once the signal is sent).");
            md.AppendLine();
        }
        if (report.Rest is { } rest)
        {
            md.AppendLine("## REST");
            md.AppendLine();
            md.AppendLine("| tool | agents in workspace | matching | connections | s | requests/s | p50 ms | p99 ms | max ms | non-2xx | errors | Api CPU % | Postgres CPU % | Api RSS MiB |");
            md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {rest.Tool} | {rest.AgentsInWorkspace} | {rest.MatchingAgents} | {rest.Connections} | {F(rest.DurationSeconds)} | {F(rest.RequestsPerSecond)} | {F(rest.LatencyP50Milliseconds)} | {F(rest.LatencyP99Milliseconds)} | {F(rest.LatencyMaxMilliseconds)} | {rest.Non2xx} | {rest.Errors} | {F(rest.ApiCpuPercentOfOneCore)} | {F(rest.PostgresCpuPercentOfOneCore)} | {F(rest.ApiRssBytes / 1048576.0)} |");
            md.AppendLine();
            md.AppendLine(CultureInfo.InvariantCulture, $"`GET {rest.Url}`");
            md.AppendLine();
            if (rest.Cpu.Count > 0)
            {
                md.AppendLine(CultureInfo.InvariantCulture,
                    $"Where the CPU went (100 % = one core): a quiet window of {F(rest.QuietSeconds)} s with no REST load, then {F(rest.LoadSeconds)} s inside autocannon's run; ms per request = CPU in the load window / requests per second, and the same above the quiet window. Postgres transactions/s: {F(rest.PostgresTransactionsPerSecondQuiet)} quiet, {F(rest.PostgresTransactionsPerSecondLoad)} under load ({(rest.RequestsPerSecond > 0 ? F((rest.PostgresTransactionsPerSecondLoad - rest.PostgresTransactionsPerSecondQuiet) / rest.RequestsPerSecond) : "–")} per request above quiet).");
                md.AppendLine();
                md.AppendLine("| process | quiet % | under load % | CPU ms per request | above quiet, ms per request |");
                md.AppendLine("|---|---:|---:|---:|---:|");
                foreach (var share in rest.Cpu)
                {
                    md.AppendLine(CultureInfo.InvariantCulture,
                        $"| {share.Process} | {F(share.QuietPercentOfOneCore)} | {F(share.LoadPercentOfOneCore)} | {(share.MillisecondsPerRequest is { } m ? F(m) : "–")} | {(share.MillisecondsPerRequestAboveQuiet is { } a ? F(a) : "–")} |");
                }
                md.AppendLine();
            }
        }
        if (report.Notes.Count > 0)
        {
            md.AppendLine("## Notes");
            md.AppendLine();
            foreach (var note in report.Notes)
            {
                md.AppendLine(CultureInfo.InvariantCulture, $"- {note}");
            }
        }
        return md.ToString();
    }

    private static string F(double value) => double.IsFinite(value) ? value.ToString("0.##", CultureInfo.InvariantCulture) : "–";
}
