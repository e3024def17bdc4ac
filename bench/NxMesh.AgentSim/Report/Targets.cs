namespace NxMesh.AgentSim.Report;

/// <summary>The targets, evaluated against whatever the run measured (a target without figures is left out).</summary>
public static class Targets
{
    public static void Evaluate(BenchReport report)
    {
        var hubMax = report.Capacity.Where(c => c.Target == "agenthub").MaxBy(c => c.Requested);
        if (hubMax is not null)
        {
            var floor = report.Capacity.FirstOrDefault(c => c.Target == "floor" && c.Requested == hubMax.Requested);
            if (floor is not null && floor.RssBytes > 0)
            {
                report.Targets.Add(new TargetCheck($"AgentHub RSS / floor RSS at {hubMax.Requested} agents", Math.Round((double)hubMax.RssBytes / floor.RssBytes, 3), "<=", 1.3, "×"));
            }
            report.Targets.Add(new TargetCheck($"AgentHub CPU at {hubMax.Requested} agents (health persisted)", hubMax.CpuPercentOfOneCore, "<=", 50, "% of one core"));
        }
        foreach (var hub in report.Propagation.Where(p => p.Target == "agenthub"))
        {
            var floor = report.Propagation.FirstOrDefault(p => p.Target == "floor" && p.Agents == hub.Agents);
            if (floor is not null && floor.Receipt.P99 > 0)
            {
                report.Targets.Add(new TargetCheck($"propagation p99 / floor broadcast p99 at {hub.Agents} agents", Math.Round(hub.Receipt.P99 / floor.Receipt.P99, 3), "<=", 1.3, "×"));
            }
            if (hub.Agents <= 1000)
            {
                report.Targets.Add(new TargetCheck($"propagation p99 at {hub.Agents} agents", hub.Receipt.P99, "<=", 200, "ms"));
            }
        }
        if (report.Reconnect is { } reconnect)
        {
            report.Targets.Add(new TargetCheck($"reconnect storm at {reconnect.Agents} agents (all in sync)", reconnect.AllInSyncSeconds ?? double.PositiveInfinity, "<=", 30, "s"));
        }
        foreach (var apply in report.Apply.Where(a => a.Ratio is not null))
        {
            report.Targets.Add(new TargetCheck($"apply overhead at {apply.ServerBlocks} server blocks (agent / bare, p50)", apply.Ratio!.Value, "<=", 1.2, "×"));
        }
        if (report.Rest is { } rest)
        {
            report.Targets.Add(new TargetCheck("REST GET agents?label_selector requests/s", rest.RequestsPerSecond, ">=", 3000, "req/s"));
            // No completed request has no latency: the p99 target is then missed, not met with 0 ms.
            report.Targets.Add(new TargetCheck("REST GET agents?label_selector p99",
                rest.RequestsPerSecond > 0 ? rest.LatencyP99Milliseconds : double.PositiveInfinity, "<=", 50, "ms"));
        }
    }
}
