using System.Net;
using System.Net.Http.Json;
using Microsoft.EntityFrameworkCore;
using Xunit;

namespace NxMesh.Api.Tests.Events;

[Collection(ApiCollection.Name)]
public sealed class AlertRulesTests(ApiFixture api) : IAsyncLifetime
{
    public Task InitializeAsync() => api.ResetAsync();
    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Every_workspace_starts_with_the_default_rules_and_put_replaces_the_overrides()
    {
        var tenant = await Tenants.CreateAsync(api, "acme");
        var url = $"/v1/workspaces/{tenant.WorkspaceId}/alert-rules";
        var defaults = await (await tenant.Owner.GetAsync(url)).JsonAsync(HttpStatusCode.OK);
        var rules = defaults.GetProperty("rules").EnumerateArray().ToDictionary(r => r.GetProperty("metric").GetString()!);
        Assert.Equal(["cpu_percent", "memory_percent", "disk_percent", "nginx_down", "config_drift_seconds", "error_rate_5xx_percent"], rules.Keys);
        Assert.Equal((90.0, "warning", "gte"), (rules["cpu_percent"].GetProperty("threshold").GetDouble(), rules["cpu_percent"].GetProperty("severity").GetString(), rules["cpu_percent"].GetProperty("comparison").GetString()));
        Assert.Equal((90.0, "warning"), (rules["memory_percent"].GetProperty("threshold").GetDouble(), rules["memory_percent"].GetProperty("severity").GetString()));
        Assert.Equal((90.0, "error"), (rules["disk_percent"].GetProperty("threshold").GetDouble(), rules["disk_percent"].GetProperty("severity").GetString()));
        Assert.Equal(("critical", "flag"), (rules["nginx_down"].GetProperty("severity").GetString(), rules["nginx_down"].GetProperty("comparison").GetString()));
        Assert.Equal((60.0, "warning", "gt"), (rules["config_drift_seconds"].GetProperty("threshold").GetDouble(), rules["config_drift_seconds"].GetProperty("severity").GetString(), rules["config_drift_seconds"].GetProperty("comparison").GetString()));
        Assert.True(rules["error_rate_5xx_percent"].GetProperty("evaluated").GetBoolean());
        Assert.All(rules.Values, r => Assert.True(r.GetProperty("is_default").GetBoolean()));

        var put = await (await tenant.Owner.PutAsJsonAsync(url, new { rules = new object[]
        {
            new { metric = "cpu_percent", threshold = 0, severity = "critical" },
            new { metric = "nginx_down", enabled = false },
        } })).JsonAsync(HttpStatusCode.OK);
        var after = put.GetProperty("rules").EnumerateArray().ToDictionary(r => r.GetProperty("metric").GetString()!);
        Assert.Equal((0.0, "critical", false), (after["cpu_percent"].GetProperty("threshold").GetDouble(), after["cpu_percent"].GetProperty("severity").GetString(), after["cpu_percent"].GetProperty("is_default").GetBoolean()));
        Assert.False(after["nginx_down"].GetProperty("enabled").GetBoolean());
        Assert.True(after["disk_percent"].GetProperty("is_default").GetBoolean());
        Assert.Equal(put.GetRawText(), (await (await tenant.Owner.GetAsync(url)).JsonAsync(HttpStatusCode.OK)).GetRawText());

        // An empty list restores every default.
        var reset = await (await tenant.Owner.PutAsJsonAsync(url, new { rules = Array.Empty<object>() })).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(defaults.GetRawText(), reset.GetRawText());

        await using var db = api.Database.CreateDbContext();
        Assert.Equal(2, await db.AuditLog.CountAsync(a => a.ResourceType == "alert_rules" && a.Action == "update"));
    }

    [Fact]
    public async Task Bad_rules_answer_422_with_a_detail_per_field_and_change_nothing()
    {
        var tenant = await Tenants.CreateAsync(api, "acme");
        var url = $"/v1/workspaces/{tenant.WorkspaceId}/alert-rules";
        var before = (await (await tenant.Owner.GetAsync(url)).JsonAsync(HttpStatusCode.OK)).GetRawText();
        var response = await tenant.Owner.PutAsJsonAsync(url, new { rules = new object[]
        {
            new { metric = "cpu_percent", threshold = 101 },
            new { metric = "memory_percent", threshold = -1 },
            new { metric = "disk_percent" },
            new { metric = "nginx_down", threshold = 5 },
            new { metric = "load_average", threshold = 5 },
            new { metric = "config_drift_seconds", threshold = 30, severity = "panic" },
            new { metric = "cpu_percent", threshold = 50 },
            new { threshold = 50 },
        } });
        var error = await response.ErrorAsync(HttpStatusCode.UnprocessableEntity, "VALIDATION_ERROR");
        Assert.Equal(
        [
            ("rules[0].threshold", "OUT_OF_RANGE"), ("rules[1].threshold", "OUT_OF_RANGE"), ("rules[2].threshold", "REQUIRED"),
            ("rules[3].threshold", "NOT_ALLOWED"), ("rules[4].metric", "INVALID_FORMAT"), ("rules[5].severity", "INVALID_FORMAT"),
            ("rules[6].metric", "CONFLICT"), ("rules[7].metric", "REQUIRED"),
        ], error.Details());
        await (await tenant.Owner.PutAsJsonAsync(url, new { })).ErrorAsync(HttpStatusCode.UnprocessableEntity, "VALIDATION_ERROR");
        Assert.Equal(before, (await (await tenant.Owner.GetAsync(url)).JsonAsync(HttpStatusCode.OK)).GetRawText());
    }
}
