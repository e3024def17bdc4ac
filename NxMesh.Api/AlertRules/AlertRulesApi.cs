using System.Globalization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using NxMesh.Api.Platform;
using NxMesh.Data;
using NxMesh.Data.Alerts;
using NxMesh.Data.Entities;
using NxMesh.Nginx.Validation;

namespace NxMesh.Api.AlertRules;

/// <summary>
/// One rule as the API shows it. <c>comparison</c>: <c>gte</c> (value ≥ threshold), <c>gt</c> (value &gt; threshold)
/// or <c>flag</c> (no threshold: fires while the condition holds). <c>evaluated</c> is false for rules the master
/// cannot evaluate yet (the 5xx error rate, until access-log telemetry reaches it).
/// </summary>
public sealed record AlertRuleView(string Metric, double? Threshold, string Severity, bool Enabled, string Unit, string Comparison, bool Evaluated, bool IsDefault)
{
    public static AlertRuleView From(EffectiveAlertRule rule) => new(rule.Metric.Name, rule.Threshold, rule.Severity, rule.Enabled, rule.Metric.Unit,
        rule.Metric.Comparison switch { AlertComparison.Flag => "flag", AlertComparison.GreaterThan => "gt", _ => "gte" },
        rule.Metric.Evaluated, rule.IsDefault);
}

public sealed record AlertRulesResponse(IReadOnlyList<AlertRuleView> Rules);

public sealed record AlertRuleInput(string? Metric, double? Threshold, string? Severity, bool? Enabled);

/// <summary>PUT: the listed rules replace the workspace's overrides; metrics not listed return to their defaults.</summary>
public sealed record PutAlertRulesRequest(IReadOnlyList<AlertRuleInput>? Rules);

/// <summary>GET/PUT /v1/workspaces/{id}/alert-rules: the thresholds the master alerts on (viewer reads, editor writes).</summary>
public static class AlertRulesApi
{
    public const string ResourceType = "alert_rules";

    public static RouteGroupBuilder MapAlertRulesApi(this RouteGroupBuilder api)
    {
        var group = api.MapGroup("/workspaces").WithTags("Alerts");
        group.MapGet("/{workspace_id:guid}/alert-rules", GetAsync).WithName("GetAlertRules")
            .WithSummary("The workspace's alert rules: every metric with its threshold, severity and whether it is the default (viewer)");
        group.MapPut("/{workspace_id:guid}/alert-rules", PutAsync).WithName("PutAlertRules")
            .WithSummary("Replace the workspace's alert rules; metrics not listed return to their defaults (editor)")
            .WithDescription("Metrics: cpu_percent, memory_percent, disk_percent (0–100, gte), config_drift_seconds (0–86400, gt), "
                + "nginx_down (flag, no threshold), error_rate_5xx_percent (0–100, gte; the 5xx share of the agent's access-log requests over the last 5 minutes). "
                + "Severities: info, warning, error, critical. Defaults: cpu 90 warning, memory 90 warning, disk 90 error, nginx_down critical, "
                + "drift 60 s warning, 5xx 5 warning. Changes apply from the next health report: crossed rules fire health.alert once, "
                + "cleared or disabled ones publish health.resolved once.");
        return group;
    }

    private static async Task<Ok<AlertRulesResponse>> GetAsync([FromRoute(Name = "workspace_id")] Guid workspaceId, NxMeshDbContext db, TenantAccess access,
        CancellationToken cancellationToken)
    {
        await access.WorkspaceAsync(workspaceId, OrganizationRole.Viewer, cancellationToken);
        return TypedResults.Ok(await LoadAsync(db, workspaceId, cancellationToken));
    }

    private static async Task<Ok<AlertRulesResponse>> PutAsync([FromRoute(Name = "workspace_id")] Guid workspaceId, PutAlertRulesRequest request,
        NxMeshDbContext db, TenantAccess access, AuditTrail audit, CancellationToken cancellationToken)
    {
        var (_, scope) = await access.WorkspaceAsync(workspaceId, OrganizationRole.Editor, cancellationToken);
        var rules = Validate(request);
        var before = await LoadAsync(db, workspaceId, cancellationToken);
        var now = DateTimeOffset.UtcNow;
        var stored = db.Set<AlertRule>();
        stored.RemoveRange(await stored.Where(r => r.WorkspaceId == workspaceId).ToListAsync(cancellationToken));
        stored.AddRange(rules.Select(r => new AlertRule
        {
            WorkspaceId = workspaceId,
            Metric = r.Metric.Name,
            Threshold = r.Threshold,
            Severity = r.Severity,
            Enabled = r.Enabled,
            UpdatedAt = now,
        }));
        var after = new AlertRulesResponse([.. AlertMetrics.Effective(stored.Local.Where(r => r.WorkspaceId == workspaceId && db.Entry(r).State != EntityState.Deleted))
            .Select(AlertRuleView.From)]);
        audit.Record(scope.OrganizationId, workspaceId, "update", ResourceType, workspaceId, before, after);
        await db.SaveChangesAsync(cancellationToken);
        return TypedResults.Ok(after);
    }

    private static async Task<AlertRulesResponse> LoadAsync(NxMeshDbContext db, Guid workspaceId, CancellationToken cancellationToken)
    {
        var overrides = await db.Set<AlertRule>().AsNoTracking().Where(r => r.WorkspaceId == workspaceId).ToListAsync(cancellationToken);
        return new AlertRulesResponse([.. AlertMetrics.Effective(overrides).Select(AlertRuleView.From)]);
    }

    private static List<EffectiveAlertRule> Validate(PutAlertRulesRequest request)
    {
        var v = new Validator();
        var result = new List<EffectiveAlertRule>();
        if (request.Rules is null)
        {
            v.Add("rules", ValidationCodes.Required, "rules is required (an empty list restores every default)");
            v.ThrowIfInvalid();
        }
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < request.Rules!.Count; i++)
        {
            var input = request.Rules[i];
            var at = $"rules[{i}]";
            if (input is null)
            {
                v.Add(at, ValidationCodes.Required, "A rule is an object");
                continue;
            }
            if (!v.Required($"{at}.metric", input.Metric))
            {
                continue;
            }
            if (AlertMetrics.Find(input.Metric) is not { } metric)
            {
                v.Add($"{at}.metric", ValidationCodes.InvalidFormat, $"Unknown metric; one of {string.Join(", ", AlertMetrics.All.Select(m => m.Name))}");
                continue;
            }
            if (!seen.Add(metric.Name))
            {
                v.Add($"{at}.metric", ValidationCodes.Conflict, $"{metric.Name} is listed twice");
            }
            var severity = input.Severity ?? metric.DefaultSeverity;
            if (!AlertMetrics.Severities.Contains(severity))
            {
                v.Add($"{at}.severity", ValidationCodes.InvalidFormat, $"severity is one of {string.Join(", ", AlertMetrics.Severities)}");
            }
            double? threshold = null;
            if (metric.Comparison == AlertComparison.Flag)
            {
                if (input.Threshold is not null)
                {
                    v.Add($"{at}.threshold", ValidationCodes.NotAllowed, $"{metric.Name} has no threshold");
                }
            }
            else if (input.Threshold is not { } value)
            {
                v.Add($"{at}.threshold", ValidationCodes.Required, $"threshold is required for {metric.Name}");
            }
            else if (!double.IsFinite(value) || value < metric.Min || value > metric.Max)
            {
                v.Add($"{at}.threshold", ValidationCodes.OutOfRange,
                    string.Create(CultureInfo.InvariantCulture, $"threshold of {metric.Name} is between {metric.Min} and {metric.Max} ({metric.Unit})"));
            }
            else
            {
                threshold = value;
            }
            result.Add(new EffectiveAlertRule(metric, threshold, severity, input.Enabled ?? true, false));
        }
        v.ThrowIfInvalid();
        return result;
    }
}
