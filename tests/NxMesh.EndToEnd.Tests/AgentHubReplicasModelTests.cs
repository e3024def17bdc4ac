using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using NxMesh.AppHost;
using Xunit;

namespace NxMesh.EndToEnd.Tests;

/// <summary>NxMesh:AgentHubReplicas in the AppHost model (checked without starting it, in container mode).</summary>
public sealed class AgentHubReplicasModelTests
{
    [Fact]
    public async Task Two_hubs_get_their_own_ports_and_the_agent_replicas_are_spread_over_them_round_robin()
    {
        var resources = await ModelAsync("--NxMesh:AgentHubReplicas=2", "--NxMesh:AgentReplicas=3");

        var first = Assert.IsType<ProjectResource>(resources[ResourceNames.AgentHub]);
        var second = Assert.IsType<ProjectResource>(resources[ResourceNames.AgentHubInstance(2)]);
        Assert.Equal("agenthub-2", second.Name);
        Assert.Equal((5081, 5082), Ports(first));
        Assert.Equal((5181, 5182), Ports(second));
        foreach (var hub in new[] { first, second })
        {
            var waits = hub.Annotations.OfType<WaitAnnotation>().ToList();
            Assert.Contains(waits, w => w.Resource.Name == ResourceNames.Migrator && w.WaitType == WaitType.WaitForCompletion);
            Assert.Contains(waits, w => w.Resource.Name == ResourceNames.Redis);
        }

        Assert.Equal([ResourceNames.AgentHub], HubsWaitedForBy(resources[ResourceNames.Agent(1)]));
        Assert.Equal([ResourceNames.AgentHubInstance(2)], HubsWaitedForBy(resources[ResourceNames.Agent(2)]));
        Assert.Equal([ResourceNames.AgentHub], HubsWaitedForBy(resources[ResourceNames.Agent(3)]));
    }

    [Fact]
    public async Task One_hub_by_default()
    {
        var resources = await ModelAsync();

        Assert.Equal([ResourceNames.AgentHub], resources.Values.OfType<ProjectResource>().Select(r => r.Name).Where(n => n.StartsWith(ResourceNames.AgentHub, StringComparison.Ordinal)));
        Assert.Equal((5081, 5082), Ports(Assert.IsType<ProjectResource>(resources[ResourceNames.AgentHub])));
    }

    private static async Task<Dictionary<string, IResource>> ModelAsync(params string[] arguments)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.NxMesh_AppHost>(
            ["--NxMesh:Mode=container", "--Parameters:key-encryption-key=" + Convert.ToBase64String(new byte[32]), .. arguments],
            cts.Token);
        return builder.Resources.ToDictionary(r => r.Name);
    }

    private static (int? Grpc, int? Http) Ports(ProjectResource hub)
    {
        var endpoints = hub.Annotations.OfType<EndpointAnnotation>().ToDictionary(e => e.Name);
        return (endpoints["grpc"].Port, endpoints["http"].Port);
    }

    private static string[] HubsWaitedForBy(IResource agent) =>
        [.. agent.Annotations.OfType<WaitAnnotation>().Select(w => w.Resource.Name).Where(n => n.StartsWith(ResourceNames.AgentHub, StringComparison.Ordinal))];
}
