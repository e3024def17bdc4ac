using System.Net;
using NxMesh.Data.Entities;
using NxMesh.Data.Labels;
using Xunit;

namespace NxMesh.Api.Tests;

/// <summary>The list's label selector runs in Postgres; its answers must equal the in-memory matcher's.</summary>
[Collection(ApiCollection.Name)]
public sealed class LabelSelectorQueryTests(ApiFixture api) : IAsyncLifetime
{
    private static readonly (string Name, AgentState State, Dictionary<string, string> Labels)[] Fleet =
    [
        ("agent-00", AgentState.Online, new() { ["env"] = "production", ["region"] = "us-east", ["tier"] = "web" }),
        ("agent-01", AgentState.Online, new() { ["env"] = "production", ["region"] = "eu-west", ["tier"] = "api" }),
        ("agent-02", AgentState.Offline, new() { ["env"] = "staging", ["region"] = "us-east" }),
        ("agent-03", AgentState.Degraded, new() { ["env"] = "production", ["canary"] = "true" }),
        ("agent-04", AgentState.Online, new() { ["env"] = "qa", ["example.com/team"] = "core", ["flag"] = "" }),
        ("agent-05", AgentState.Online, []),
        ("agent-06", AgentState.Offline, new() { ["region"] = "ap-south", ["tier"] = "web", ["flag"] = "on" }),
        ("agent-07", AgentState.Online, new() { ["env"] = "Production", ["region"] = "us-east" }),
        ("agent-08", AgentState.Online, new() { ["env"] = "production", ["region"] = "us-east", ["tier"] = "web", ["canary"] = "false" }),
        ("agent-09", AgentState.Degraded, new() { ["env"] = "staging", ["example.com/team"] = "edge" }),
    ];

    private static readonly string[] Selectors =
    [
        "env=production",
        "env==production",
        "env=Production",
        "env!=production",
        "missing!=x",
        "env in (staging,qa)",
        "env in (production, staging, nothing)",
        "env notin (production)",
        "env notin (staging,qa)",
        "missing in (a)",
        "missing notin (a)",
        "tier",
        "!tier",
        "!missing",
        "missing",
        "flag=",
        "flag!=",
        "flag",
        "example.com/team=core",
        "example.com/team in (core,edge),env!=qa",
        "env=production,region=us-east,tier=web,!canary",
        "env in (production),tier,canary notin (true)",
        "region!=us-east,env notin (qa),!canary",
    ];

    public Task InitializeAsync() => api.ResetAsync();
    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Every_selector_answers_what_the_in_memory_matcher_answers_with_paging_and_total()
    {
        var tenant = await Tenants.CreateAsync(api, "acme");
        foreach (var (name, state, labels) in Fleet)
        {
            await Tenants.SeedAgentAsync(api, tenant.WorkspaceId, name, labels, state, withHealth: false);
        }
        // Another tenant's agents match the same selectors and must never appear.
        var other = await Tenants.CreateAsync(api, "other");
        await Tenants.SeedAgentAsync(api, other.WorkspaceId, "agent-00b", new() { ["env"] = "production", ["tier"] = "web" }, withHealth: false);

        foreach (var text in Selectors)
        {
            var selector = LabelSelector.Parse(text);
            var expected = Fleet.Where(a => selector.Matches(a.Labels)).Select(a => a.Name).Order(StringComparer.Ordinal).ToArray();
            var label = "label_selector=" + Uri.EscapeDataString(text);

            var (all, total) = await ListAsync(tenant, label + "&per_page=100");
            Assert.True(expected.SequenceEqual(all), $"{text}: expected [{string.Join(',', expected)}], got [{string.Join(',', all)}]");
            Assert.Equal(expected.Length, total);

            var (page2, pagedTotal) = await ListAsync(tenant, label + "&per_page=2&page=2");
            Assert.Equal(expected.Skip(2).Take(2), page2);
            Assert.Equal(expected.Length, pagedTotal);

            var online = Fleet.Where(a => a.State == AgentState.Online && selector.Matches(a.Labels)).Select(a => a.Name).Order(StringComparer.Ordinal);
            var (onlineNames, onlineTotal) = await ListAsync(tenant, label + "&state=online&per_page=100");
            Assert.Equal(online, onlineNames);
            Assert.Equal(online.Count(), onlineTotal);
        }
    }

    private static async Task<(string[] Names, int Total)> ListAsync(Tenant tenant, string query)
    {
        var body = await (await tenant.Owner.GetAsync($"/v1/workspaces/{tenant.WorkspaceId}/agents?{query}")).JsonAsync(HttpStatusCode.OK);
        var names = body.GetProperty("data").EnumerateArray().Select(a => a.GetProperty("name").GetString()!).ToArray();
        return (names, body.GetProperty("meta").GetProperty("total").GetInt32());
    }
}
