using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using NxMesh.AppHost;
using Xunit;

namespace NxMesh.EndToEnd.Tests;

/// <summary>Container mode cannot run here (no engine): its model is checked without starting it.</summary>
public sealed class ContainerModeModelTests
{
    [Fact]
    public async Task Container_mode_uses_the_hosting_integrations_and_the_agent_dockerfile()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.NxMesh_AppHost>(
            ["--NxMesh:Mode=container", "--NxMesh:AgentReplicas=3", "--Parameters:key-encryption-key=" + Convert.ToBase64String(new byte[32])],
            cts.Token);
        var resources = builder.Resources.ToDictionary(r => r.Name);

        Assert.IsType<PostgresServerResource>(resources[ResourceNames.Postgres]);
        Assert.IsType<PostgresDatabaseResource>(resources[ResourceNames.Database]);
        Assert.IsType<RedisResource>(resources[ResourceNames.Redis]);
        Assert.DoesNotContain(ResourceNames.RedisServer, resources.Keys);

        foreach (var name in new[] { ResourceNames.Api, ResourceNames.AgentHub, ResourceNames.Worker })
        {
            var project = Assert.IsType<ProjectResource>(resources[name]);
            var waits = project.Annotations.OfType<WaitAnnotation>().ToList();
            Assert.Contains(waits, w => w.Resource.Name == ResourceNames.Migrator && w.WaitType == WaitType.WaitForCompletion);
            Assert.Contains(waits, w => w.Resource.Name == ResourceNames.Redis);
            Assert.Contains(waits, w => w.Resource.Name == ResourceNames.Database);
        }

        for (var i = 1; i <= 3; i++)
        {
            var agent = Assert.IsType<ContainerResource>(resources[ResourceNames.Agent(i)]);
            var build = Assert.Single(agent.Annotations.OfType<DockerfileBuildAnnotation>());
            Assert.EndsWith(Path.Combine("NxMesh.Agent", "Dockerfile"), build.DockerfilePath, StringComparison.Ordinal);
            Assert.True(File.Exists(build.DockerfilePath), build.DockerfilePath);
            Assert.Contains(agent.Annotations.OfType<WaitAnnotation>(), w => w.Resource.Name == ResourceNames.AgentHub);
        }
    }
}
