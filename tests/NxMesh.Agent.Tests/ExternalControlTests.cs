using System.Net;
using NxMesh.Protocol.V1;
using NxMesh.Testing;

namespace NxMesh.Agent.Tests;

public sealed class ExternalControlTests
{
    [Fact]
    public async Task Agent_drives_an_nginx_it_did_not_start_through_the_pid_file_and_leaves_it_serving_on_exit()
    {
        var state = Path.Combine(Path.GetTempPath(), "nxmesh-agent-" + Guid.NewGuid().ToString("N")[..12]);
        var prefix = Path.Combine(state, "nginx");
        foreach (var directory in new[] { "conf", "logs", "temp" })
        {
            Directory.CreateDirectory(Path.Combine(prefix, directory));
        }
        var stub = Ports.Free();
        var before = Ports.Free();
        await File.WriteAllTextAsync(Path.Combine(prefix, "conf", "nginx.conf"),
            TestRenderer.MainConfig(stub, $"    server {{ listen 127.0.0.1:{before}; return 200 \"operator's own\"; }}\n"));
        // The operator's nginx (systemd, the nginx container): started with the agent's -p and -c.
        await using var nginx = ServerProcess.Start(NginxRunner.Binary, "-p", prefix + "/", "-c", Path.Combine(prefix, "conf", "nginx.conf"), "-g", "daemon off;");
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        await Wait.UntilAsync(async () => await http.GetStringAsync($"http://127.0.0.1:{before}/") == "operator's own", TimeSpan.FromSeconds(10), "the operator's nginx");
        await using var upstream = TestUpstream.Start("managed");

        await using var agent = await TestAgent.StartAsync(state, stub, extraFlags: ["--control-mode", "external"]);

        Assert.Equal(NginxControlMode.External, agent.Control.Mode);
        Assert.Equal(nginx.Pid, agent.MasterPid);
        Assert.NotNull(agent.ActiveRelease);
        using (var response = await http.GetAsync($"http://127.0.0.1:{agent.BasePort}/"))
        {
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        }
        var port = Ports.Free();
        var statuses = await agent.ApplyAsync(TestRenderer.Update(1, (port, upstream.Address)));
        Assert.Equal(ConfigApplyStatus.Success, statuses[^1].Status);
        Assert.Equal("managed", await http.GetStringAsync($"http://127.0.0.1:{port}/"));
        Assert.Equal(nginx.Pid, agent.MasterPid);

        await agent.StopAsync();

        Assert.False(nginx.HasExited);
        Assert.Equal("managed", await http.GetStringAsync($"http://127.0.0.1:{port}/"));
        await nginx.StopAsync("QUIT");
    }
}
