namespace NxMesh.Data.Alerts;

/// <summary>How a metric's value is compared with its rule's threshold.</summary>
public enum AlertComparison { AtLeast, GreaterThan, Flag }

/// <summary>One metric the master evaluates on health reports: its default rule and the valid threshold range.</summary>
public sealed record AlertMetric(string Name, string Unit, AlertComparison Comparison, double? DefaultThreshold, string DefaultSeverity,
    double Min, double Max, bool Evaluated);

/// <summary>The effective rule of a workspace for one metric (an override, or the default).</summary>
public sealed record EffectiveAlertRule(AlertMetric Metric, double? Threshold, string Severity, bool Enabled, bool IsDefault)
{
    public bool Crossed(double value) => Metric.Comparison switch
    {
        AlertComparison.Flag => value >= 1,
        AlertComparison.GreaterThan => value > Threshold,
        _ => value >= Threshold,
    };
}

/// <summary>
/// The metrics, severities and default rules of design.md ("Alerts"): cpu ≥ 90 % warning, memory ≥ 90 % warning,
/// disk ≥ 90 % error, nginx not running critical, drift longer than 60 s warning; plus the 5xx error rate ≥ 5 %
/// warning, computed from the access-log rollups of the last <see cref="ErrorRateWindow"/>.
/// </summary>
public static class AlertMetrics
{
    public const string CpuPercent = "cpu_percent";
    public const string MemoryPercent = "memory_percent";
    public const string DiskPercent = "disk_percent";
    public const string NginxDown = "nginx_down";
    public const string ConfigDriftSeconds = "config_drift_seconds";
    public const string ErrorRate5xxPercent = "error_rate_5xx_percent";

    /// <summary>The window of access-log rollups the 5xx error rate is computed over (whole minutes).</summary>
    public static readonly TimeSpan ErrorRateWindow = TimeSpan.FromMinutes(5);

    public static readonly string[] Severities = ["info", "warning", "error", "critical"];

    public static readonly IReadOnlyList<AlertMetric> All =
    [
        new(CpuPercent, "percent", AlertComparison.AtLeast, 90, "warning", 0, 100, true),
        new(MemoryPercent, "percent", AlertComparison.AtLeast, 90, "warning", 0, 100, true),
        new(DiskPercent, "percent", AlertComparison.AtLeast, 90, "error", 0, 100, true),
        new(NginxDown, "flag", AlertComparison.Flag, null, "critical", 0, 0, true),
        new(ConfigDriftSeconds, "seconds", AlertComparison.GreaterThan, 60, "warning", 0, 86_400, true),
        new(ErrorRate5xxPercent, "percent", AlertComparison.AtLeast, 5, "warning", 0, 100, true),
    ];

    public static AlertMetric? Find(string? name) => All.FirstOrDefault(m => m.Name == name);

    /// <summary>Every metric's effective rule: the stored overrides, else the defaults.</summary>
    public static IReadOnlyList<EffectiveAlertRule> Effective(IEnumerable<AlertRule> overrides)
    {
        var stored = overrides.ToDictionary(r => r.Metric, StringComparer.Ordinal);
        return [.. All.Select(m => stored.TryGetValue(m.Name, out var rule)
            ? new EffectiveAlertRule(m, m.Comparison == AlertComparison.Flag ? null : rule.Threshold, rule.Severity, rule.Enabled, false)
            : new EffectiveAlertRule(m, m.DefaultThreshold, m.DefaultSeverity, true, true))];
    }
}
