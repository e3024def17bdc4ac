using NxMesh.AgentSim.Report;
using Xunit;

namespace NxMesh.Bench.Tests;

public sealed class TargetTests
{
    [Fact]
    public void A_limit_is_met_at_or_below_it_and_a_miss_says_by_how_much()
    {
        Assert.True(new TargetCheck("cpu", 50, "<=", 50, "%").Met);
        var missed = new TargetCheck("cpu", 65, "<=", 50, "%");
        Assert.False(missed.Met);
        Assert.Equal(1.3, missed.Ratio);
        Assert.Equal("missed: 30 % over", missed.Verdict);
    }

    [Fact]
    public void A_minimum_is_met_at_or_above_it_and_a_miss_says_how_far_under()
    {
        Assert.Equal("met", new TargetCheck("rps", 3000, ">=", 3000, "req/s").Verdict);
        Assert.Equal("missed: 40 % under", new TargetCheck("rps", 1800, ">=", 3000, "req/s").Verdict);
    }

    [Fact]
    public void Targets_compare_agenthub_with_the_floor_at_the_same_agent_count()
    {
        var report = new BenchReport();
        report.Capacity.Add(Capacity("agenthub", 1000, rss: 400, cpu: 10));
        report.Capacity.Add(Capacity("agenthub", 10000, rss: 1300, cpu: 60));
        report.Capacity.Add(Capacity("floor", 10000, rss: 500, cpu: 20));
        report.Propagation.Add(Propagation("agenthub", 1000, p99: 150));
        report.Propagation.Add(Propagation("agenthub", 10000, p99: 900));
        report.Propagation.Add(Propagation("floor", 10000, p99: 300));
        report.Reconnect = new ReconnectResult(10000, 5, 10000, 20, null, Distribution.Of([1, 2]), 0, [1, 2]);

        Targets.Evaluate(report);

        var byName = report.Targets.ToDictionary(t => t.Name);
        Assert.Equal(2.6, byName["AgentHub RSS / floor RSS at 10000 agents"].Measured);
        Assert.False(byName["AgentHub CPU at 10000 agents (health persisted)"].Met);
        Assert.Equal(3, byName["propagation p99 / floor broadcast p99 at 10000 agents"].Measured);
        Assert.True(byName["propagation p99 at 1000 agents"].Met);
        Assert.False(byName["reconnect storm at 10000 agents (all in sync)"].Met);
        Assert.DoesNotContain(report.Targets, t => t.Name.Contains("REST", StringComparison.Ordinal) || t.Name.Contains("apply", StringComparison.Ordinal));
        Assert.DoesNotContain("propagation p99 / floor broadcast p99 at 1000 agents", byName.Keys);
    }

    [Fact]
    public void The_markdown_report_shows_every_section_that_has_figures()
    {
        var report = new BenchReport { Commit = "abc123" };
        report.Capacity.Add(Capacity("floor", 100, rss: 80, cpu: 1));
        report.Rest = new RestResult("autocannon 9.0.0", "/v1/x", 100, 10, 10, 5, 3500, 2, 30, 60, 0, 0, 80, 20, 200 << 20);
        Targets.Evaluate(report);

        var markdown = ReportWriter.Markdown(report);

        Assert.Contains("`abc123`", markdown, StringComparison.Ordinal);
        Assert.Contains("| floor | 100 |", markdown, StringComparison.Ordinal);
        Assert.Contains("| REST GET agents?label_selector requests/s | 3500 req/s | >= 3000 req/s | 1.17 | met |", markdown, StringComparison.Ordinal);
        Assert.DoesNotContain("## Propagation", markdown, StringComparison.Ordinal);
        Assert.DoesNotContain("## Reconnect", markdown, StringComparison.Ordinal);
    }

    [Fact]
    public void A_rest_run_that_completed_no_request_misses_the_latency_target()
    {
        var report = new BenchReport { Rest = new RestResult("autocannon 9.0.0", "/v1/x", 10000, 1000, 10, 20, 0, 0, 0, 0, 0, 20, 10, 2, 0) };

        Targets.Evaluate(report);

        Assert.All(report.Targets, t => Assert.False(t.Met));
    }

    private static CapacityResult Capacity(string target, int n, long rss, double cpu) =>
        new(target, n, n, 1, 0, rss << 20, 0, cpu, 30, n / 5.0, n / 5.0, 0, 0, 0, 0);

    private static PropagationResult Propagation(string target, int n, double p99) =>
        new(target, n, 2048, 10, new Distribution(n, 1, p99 / 2, p99, p99, p99, p99 / 2), Distribution.Empty, n, n, null, 0, [], []);
}
