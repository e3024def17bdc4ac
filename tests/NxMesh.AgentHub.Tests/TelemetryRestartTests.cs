using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using NxMesh.Data.Entities;
using NxMesh.Testing;
using Xunit;
using Xunit.Abstractions;

namespace NxMesh.AgentHub.Tests;

/// <summary>
/// Issue 7's second Must-show with real processes: a steady request stream through the real agent's nginx while the
/// agent is SIGKILLed and started again and the AgentHub is stopped and started again; afterwards the stored
/// access-log lines of the run are exactly the requests nginx answered — none missing, none twice.
/// </summary>
[Collection(DatabaseCollection.Name)]
public sealed class TelemetryRestartTests(DatabaseFixture database, ITestOutputHelper output) : IAsyncLifetime
{
    private const int Requests = 2000;
    private readonly RealAgent _agent = new("tele-agent");

    public Task InitializeAsync() => database.ResetAsync();

    public Task DisposeAsync()
    {
        _agent.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Agent_kill_and_hub_restart_during_traffic_neither_lose_nor_duplicate_access_log_lines()
    {
        var workspaceId = await Seed.WorkspaceAsync(database);
        var (agentId, token) = await Seed.AgentWithTokenAsync(database, workspaceId);
        await using var upstream = TestUpstream.Start("counted");
        Guid upstreamId;
        await using (var db = database.CreateDbContext())
        {
            var row = new Upstream { WorkspaceId = workspaceId, Name = "app", Servers = [new UpstreamServerSpec { Address = upstream.Address }] };
            db.Add(row);
            await db.SaveChangesAsync();
            upstreamId = row.Id;
        }
        await Seed.VirtualHostAsync(database, workspaceId, "counted.example.test", upstreamId: upstreamId);
        var hub = new HubFactory(database);
        var hubStopped = false;
        HubFactory? restartedHub = null;
        ServerProcess? agent = null;
        ServerProcess? restartedAgent = null;
        try
        {
            hub.StartServer();
            var port = hub.GrpcPort;
            agent = StartAgent(port, token);
            // Ready when the agent reported the apply, not at nginx's first 200: on a reload both worker generations
            // accept for a while, and the old one answers 404 for this host (ReloadReadinessTests).
            await Wait.UntilAsync(async () =>
            {
                await using var db = database.CreateDbContext();
                var row = await db.Agents.AsNoTracking().SingleAsync(a => a.Id == agentId);
                return row.DesiredConfigId is not null && row.AppliedConfigId == row.DesiredConfigId && row.LastApplyStatus == ConfigApplyStatus.Success;
            }, TimeSpan.FromSeconds(60), "the agent to report its desired config applied");
            Assert.Equal(HttpStatusCode.OK, (await GetAsync("/ready")).Status);

            var run = "/run-" + Guid.NewGuid().ToString("N")[..10];
            var traffic = new Traffic(this, run);
            var sending = traffic.Start();

            // SIGKILL the agent a quarter in (nginx, its child, keeps serving and logging), start it again a second later.
            await traffic.WaitSentAsync(Requests / 4);
            await agent.StopAsync("KILL");
            await Task.Delay(TimeSpan.FromSeconds(1));
            restartedAgent = StartAgent(port, token);

            // Stop the hub at 60 % (the agent buffers and re-sends what was not acknowledged), start it two seconds later.
            await traffic.WaitSentAsync(Requests * 6 / 10);
            await hub.DisposeAsync();
            hubStopped = true;
            await Task.Delay(TimeSpan.FromSeconds(2));
            restartedHub = new HubFactory(database, grpcPort: port);
            restartedHub.StartServer();

            await sending.WaitAsync(TimeSpan.FromMinutes(3));
            Assert.Equal(Requests, traffic.Answered.Count);

            List<(string Uri, string RequestId)> stored = [];
            await Wait.UntilAsync(async () => (stored = await StoredAsync(run)).Count >= traffic.Answered.Count,
                TimeSpan.FromSeconds(90), $"{traffic.Answered.Count} stored lines of the run");
            // Late duplicates would arrive within the agent's ack timeout and re-send: look again after it.
            await Task.Delay(TimeSpan.FromSeconds(3));
            stored = await StoredAsync(run);

            output.WriteLine($"{Requests} requests answered, {traffic.Refused} attempts refused while no nginx listened, {traffic.Uncertain.Count} failed otherwise; {stored.Count} lines stored");
            var storedUris = stored.Select(s => s.Uri).ToList();
            Assert.Equal(storedUris.Count, storedUris.Distinct(StringComparer.Ordinal).Count());
            Assert.Equal(stored.Count, stored.Select(s => s.RequestId).Distinct(StringComparer.Ordinal).Count());
            var missing = traffic.Answered.Keys.Except(storedUris, StringComparer.Ordinal).ToList();
            Assert.True(missing.Count == 0, $"{missing.Count} answered requests not stored, e.g. {string.Join(", ", missing.Take(5))}");
            // Attempts nginx never answered (refused while no nginx listened) are not in the log; an attempt that failed
            // in an unknown state may be. Nothing else is.
            var unexpected = storedUris.Except(traffic.Answered.Keys, StringComparer.Ordinal).Except(traffic.Uncertain.Keys, StringComparer.Ordinal).ToList();
            Assert.True(unexpected.Count == 0, $"stored lines of no answered request: {string.Join(", ", unexpected.Take(5))}");
            Assert.Equal(Requests, storedUris.Intersect(traffic.Answered.Keys, StringComparer.Ordinal).Count());
        }
        finally
        {
            if (restartedAgent is not null)
            {
                await restartedAgent.DisposeAsync();
            }
            if (agent is not null)
            {
                await agent.DisposeAsync();
            }
            if (restartedHub is not null)
            {
                await restartedHub.DisposeAsync();
            }
            if (!hubStopped)
            {
                await hub.DisposeAsync();
            }
        }
    }

    private async Task<List<(string Uri, string RequestId)>> StoredAsync(string run)
    {
        await using var connection = new NpgsqlConnection(database.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT uri, request_id FROM access_log_entries WHERE starts_with(uri, $1)", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = run + "/" });
        var rows = new List<(string, string)>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add((reader.GetString(0), reader.GetString(1)));
        }
        return rows;
    }

    private async Task<(HttpStatusCode Status, string Body)> GetAsync(string path)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        using var request = new HttpRequestMessage(HttpMethod.Get, _agent.Url(path));
        request.Headers.Host = "counted.example.test";
        // One connection per request: a request is either answered (and logged) or refused, never retried by the client.
        request.Headers.ConnectionClose = true;
        using var response = await http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }


    /// <summary>
    /// <see cref="Requests"/> numbered requests, about 100 per second; a refused attempt is retried under a new uri
    /// (the number plus the attempt), so every number is eventually answered exactly once.
    /// </summary>
    private sealed class Traffic(TelemetryRestartTests test, string run)
    {
        private int _sent;

        public ConcurrentDictionary<string, bool> Answered { get; } = new(StringComparer.Ordinal);
        public ConcurrentDictionary<string, bool> Uncertain { get; } = new(StringComparer.Ordinal);
        public int Refused { get; private set; }

        private Task? _running;

        public Task Start() => _running = RunAsync();

        private async Task RunAsync()
        {
            var clock = Stopwatch.StartNew();
            for (var i = 0; i < Requests; i++)
            {
                for (var attempt = 0; ; attempt++)
                {
                    Assert.True(attempt < 600, $"request {i} not answered after {attempt} attempts");
                    var uri = $"{run}/{i}/{attempt}";
                    try
                    {
                        var (status, body) = await test.GetAsync(uri);
                        Assert.True(status == HttpStatusCode.OK && body == "counted",
                            $"request {i} ({uri}) answered {(int)status} '{body[..Math.Min(body.Length, 200)]}' after {Volatile.Read(ref _sent)} answered");
                        Answered[uri] = true;
                        break;
                    }
                    catch (HttpRequestException ex) when (ex.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionRefused })
                    {
                        Refused++;
                    }
                    catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException)
                    {
                        Uncertain[uri] = true;
                    }
                    await Task.Delay(50);
                }
                Volatile.Write(ref _sent, i + 1);
                // Pace: about 100 requests per second.
                var due = TimeSpan.FromMilliseconds(10 * (i + 1)) - clock.Elapsed;
                if (due > TimeSpan.Zero)
                {
                    await Task.Delay(due);
                }
            }
        }

        // A request answered wrongly ends the traffic: fail with that answer at once instead of waiting for the count.
        public Task WaitSentAsync(int count) =>
            Wait.UntilAsync(() => _running is { IsFaulted: true } failed
                ? Task.FromException<bool>(failed.Exception!.InnerException!)
                : Task.FromResult(Volatile.Read(ref _sent) >= count), TimeSpan.FromMinutes(2), $"{count} requests answered");
    }

    private ServerProcess StartAgent(int hubPort, string token) =>
        _agent.Start(hubPort, token,
            "--metrics-interval", "2",
            "--log-flush-interval-ms", "200",
            "--telemetry-ack-timeout", "5");
}
