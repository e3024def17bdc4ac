using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Aspire.Hosting.Testing;
using NxMesh.AppHost;
using NxMesh.Testing;
using Xunit;
using Xunit.Abstractions;

namespace NxMesh.EndToEnd.Tests;

/// <summary>
/// Issue 10's browser test: web/e2e/console.mjs drives Debian's Chromium (playwright-core) through the console served
/// by the fleet's Api — login, upstream and virtual host created in the UI and served by every targeted agent, a
/// validation error next to its field, requests sent through replica 1 appearing in the access-log view (filters,
/// follow mode) and in the agent's recent access logs and metrics, a reload with its result, first-login password change of a viewer who sees
/// no edit controls while the API refuses the edits, logout. Screenshots go to tests/artifacts/ui/.
/// </summary>
[Collection(FleetCollection.Name)]
public sealed class ConsoleTests(FleetFixture fleet, ITestOutputHelper output)
{
    private static readonly TimeSpan ScriptTimeout = TimeSpan.FromMinutes(6);
    private const string TestLabel = "ui-test";

    [Fact]
    public async Task The_console_runs_the_fleet_in_a_real_browser()
    {
        using (var cts = new CancellationTokenSource(FleetFixture.StartTimeout))
        {
            await fleet.WaitHealthyAsync(ResourceNames.Api, cts.Token);
        }
        var apiUrl = fleet.App.GetEndpoint(ResourceNames.Api, "http").ToString().TrimEnd('/');
        var repository = RepositoryRoot();
        await using var upstream = TestUpstream.Start("ui-upstream-" + Guid.NewGuid().ToString("N")[..8]);
        var agents = string.Join(',', Enumerable.Range(1, FleetFixture.Replicas)
            .Select(i => string.Create(CultureInfo.InvariantCulture, $"http://{fleet.AgentAddressPrefix}{10 + i}:{80 + fleet.AgentPortOffset}")));
        try
        {
            var (exitCode, text) = await RunNodeAsync(repository, Path.Combine(repository, "web", "e2e", "console.mjs"),
                $"url={apiUrl}",
                $"email={ControlPlaneExtensions.DefaultAdminEmail}",
                $"password={ControlPlaneExtensions.DefaultAdminPassword}",
                $"upstream={upstream.Address}",
                $"upstream_name={upstream.Name}",
                $"agents={agents}",
                $"artifacts={Path.Combine(repository, "tests", "artifacts", "ui")}");
            output.WriteLine(text);
            Assert.True(exitCode == 0, $"console.mjs exited with {exitCode}:\n{text}");
            Assert.Contains("all steps passed", text, StringComparison.Ordinal);
            Assert.True(upstream.RequestCount > 0, "the upstream created in the console was never reached through nginx");
        }
        finally
        {
            // The registration step pre-creates an agent (labelled ui-test) and deletes it in the UI; a failed run
            // must not leave it behind for the fleet's other tests.
            await DeleteTestAgentsAsync(apiUrl);
        }
    }

    private static async Task<(int ExitCode, string Output)> RunNodeAsync(string workingDirectory, string script, params string[] arguments)
    {
        var start = new ProcessStartInfo("node") { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(script);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        var text = new StringBuilder();
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (text) { text.AppendLine(e.Data); } } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (text) { text.AppendLine(e.Data); } } };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var cts = new CancellationTokenSource(ScriptTimeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            // By its own PID, with the browser it started.
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
            lock (text)
            {
                return (-1, text + $"\n(timed out after {ScriptTimeout})");
            }
        }
        process.WaitForExit();
        lock (text)
        {
            return (process.ExitCode, text.ToString());
        }
    }

    private static async Task DeleteTestAgentsAsync(string apiUrl)
    {
        using var http = new HttpClient { BaseAddress = new Uri(apiUrl), Timeout = TimeSpan.FromSeconds(30) };
        var login = await http.PostAsJsonAsync("/v1/auth/login", new { email = ControlPlaneExtensions.DefaultAdminEmail, password = ControlPlaneExtensions.DefaultAdminPassword });
        login.EnsureSuccessStatusCode();
        var tokens = JsonNode.Parse(await login.Content.ReadAsStringAsync())!;
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", (string)tokens["access_token"]!);
        var organizations = JsonNode.Parse(await http.GetStringAsync("/v1/organizations?per_page=100"))!["data"]!.AsArray();
        foreach (var organization in organizations)
        {
            var workspaces = JsonNode.Parse(await http.GetStringAsync($"/v1/organizations/{organization!["id"]}/workspaces?per_page=100"))!["data"]!.AsArray();
            foreach (var workspace in workspaces)
            {
                var leftOver = JsonNode.Parse(await http.GetStringAsync($"/v1/workspaces/{workspace!["id"]}/agents?per_page=100&label_selector={TestLabel}"))!["data"]!.AsArray();
                foreach (var agent in leftOver)
                {
                    (await http.DeleteAsync($"/v1/agents/{agent!["id"]}")).EnsureSuccessStatusCode();
                }
            }
        }
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "NxMesh.sln")))
            {
                return directory.FullName;
            }
        }
        throw new InvalidOperationException("NxMesh.sln not found above " + AppContext.BaseDirectory);
    }
}
