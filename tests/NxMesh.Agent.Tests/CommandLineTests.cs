using System.Collections;
using System.Diagnostics;
using Microsoft.Extensions.Options;
using NxMesh.Agent.Cli;
using NxMesh.Agent.Master;

namespace NxMesh.Agent.Tests;

public sealed class CommandLineTests
{
    [Fact]
    public async Task Help_exits_0_and_documents_every_option_with_flag_and_variable()
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "NxMesh.Agent.dll"));
        start.ArgumentList.Add("--help");
        using var process = Process.Start(start)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var output = await process.StandardOutput.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);

        Assert.Equal(0, process.ExitCode);
        var options = typeof(AgentOptions).GetProperties().Where(p => p.CanWrite).Select(p => p.Name).ToList();
        Assert.True(options.Count >= 20);
        Assert.All(options, name => Assert.Contains($"Agent:{name}", output, StringComparison.Ordinal));
        foreach (var text in new[] { "--master-url", "NXMESH_MASTER_URL", "--registration-token", "--state-dir", "--nginx-binary", "--nginx-prefix",
            "--nginx-config", "--listen-address", "--port-offset", "--allowed-root", "--deployment-mode", "--label", "--master-ca",
            "--master-client-cert", "standalone", "docker_sidecar", "kubernetes_sidecar", "supervise", "external" })
        {
            Assert.Contains(text, output, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Unknown_value_for_a_flag_without_value_exits_2()
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "NxMesh.Agent.dll"));
        start.ArgumentList.Add("--label");
        start.ArgumentList.Add("no-equals-sign");
        using var process = Process.Start(start)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var error = await process.StandardError.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);

        Assert.Equal(2, process.ExitCode);
        Assert.Contains("--label expects key=value", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Flags_win_over_NXMESH_variables_and_both_reach_the_options()
    {
        var environment = new Hashtable
        {
            ["NXMESH_MASTER_URL"] = "http://from-env:5081",
            ["NXMESH_STATE_DIR"] = "/srv/agent-state",
            ["NXMESH_LABELS"] = "env=prod, region=eu",
            ["NXMESH_ALLOWED_ROOTS"] = "/srv/www:/var/www",
            ["NXMESH_DEPLOYMENT_MODE"] = "kubernetes_sidecar",
        };
        var parsed = AgentCommandLine.Parse(["--master-url", "http://from-flag:5081", "--port-offset=8000", "--label", "tier=web", "--Agent:StubStatusPort=18099"], environment);

        Assert.False(parsed.Help);
        Assert.Empty(parsed.Errors);
        var options = Bind(parsed);
        Assert.Equal("http://from-flag:5081", options.MasterUrl);
        Assert.Equal("/srv/agent-state", options.StateDirectory);
        Assert.Equal(8000, options.PortOffset);
        Assert.Equal(18099, options.StubStatusPort);
        Assert.Equal(["/srv/www", "/var/www"], options.AllowedRoots);
        Assert.Equal("prod", options.Labels["env"]);
        Assert.Equal("eu", options.Labels["region"]);
        Assert.Equal("web", options.Labels["tier"]);
        Assert.Equal(NginxControlMode.External, options.EffectiveControlMode);
        Assert.Equal("/srv/agent-state/nginx/conf/nginx.conf", options.ResolvedConfigPath);
    }

    [Theory]
    [InlineData("standalone", "auto", NginxControlMode.Supervise)]
    [InlineData("docker_sidecar", "auto", NginxControlMode.Supervise)]
    [InlineData("kubernetes_sidecar", "auto", NginxControlMode.External)]
    [InlineData("standalone", "external", NginxControlMode.External)]
    [InlineData("kubernetes_sidecar", "supervise", NginxControlMode.Supervise)]
    public void Deployment_modes_map_onto_control_modes(string deployment, string control, NginxControlMode expected) =>
        Assert.Equal(expected, new AgentOptions { DeploymentMode = deployment, ControlMode = control }.EffectiveControlMode);

    [Fact]
    public void Invalid_values_are_reported()
    {
        var options = new AgentOptions { DeploymentMode = "bare_metal", ControlMode = "maybe", PortOffset = -1, MasterUrl = "not a url" };
        var problems = options.Validate().Select(v => v.ErrorMessage).ToList();
        Assert.Equal(4, problems.Count);
    }

    private static AgentOptions Bind(AgentCommandLine.Parsed parsed)
    {
        var builder = AgentHost.CreateBuilder(parsed);
        using var host = builder.Build();
        return host.Services.GetRequiredService<IOptions<AgentOptions>>().Value;
    }
}

public sealed class BackoffTests
{
    [Fact]
    public void Backoff_doubles_from_one_second_with_jitter_and_caps_at_thirty()
    {
        var backoff = Backoff.Default(new Random(42));
        var delays = Enumerable.Range(0, 10).Select(_ => backoff.Next().TotalSeconds).ToList();

        double[] nominal = [1, 2, 4, 8, 16, 30, 30, 30, 30, 30];
        for (var i = 0; i < delays.Count; i++)
        {
            Assert.InRange(delays[i], nominal[i] * 0.8, Math.Min(30, nominal[i] * 1.2));
        }
        Assert.True(delays.Distinct().Count() > 5, "jitter spreads the delays");
        backoff.Reset();
        Assert.InRange(backoff.Next().TotalSeconds, 0.8, 1.2);
    }

    [Fact]
    public void Jitter_differs_between_agents()
    {
        var first = Backoff.Default(new Random(1));
        var second = Backoff.Default(new Random(2));
        Assert.NotEqual(Enumerable.Range(0, 5).Select(_ => first.Next()), Enumerable.Range(0, 5).Select(_ => second.Next()));
    }
}
