using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using NxMesh.Testing;
using Xunit;

namespace NxMesh.EndToEnd.Tests;

/// <summary>
/// Issue 7's first Must-show through the real AppHost: a known set of requests (two hosts, four methods, 2xx–5xx,
/// known body sizes) through replica 1's nginx comes back from GET /workspaces/{id}/access-logs exactly — no more, no
/// less, with the right fields — and the agent and workspace metrics count them.
/// </summary>
[Collection(FleetCollection.Name)]
public sealed class TelemetryEndToEndTests(FleetFixture fleet)
{
    private static readonly TimeSpan EnrollTimeout = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan ApplyTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan ShipTimeout = TimeSpan.FromSeconds(60);

    private static readonly (string Method, int Status, int Bytes)[] Pattern =
    [
        ("GET", 200, 123), ("POST", 201, 45), ("PUT", 200, 7), ("DELETE", 200, 1), ("GET", 301, 10), ("GET", 302, 0),
        ("GET", 404, 99), ("POST", 403, 21), ("GET", 500, 300), ("PUT", 503, 17), ("DELETE", 404, 5), ("POST", 502, 64),
    ];

    [Fact]
    public async Task Requests_through_real_nginx_come_back_exactly_from_the_access_log_api_and_are_counted_by_the_metrics()
    {
        using var session = await FleetSession.OpenAsync(fleet);
        var agent1 = await session.WaitOnlineAsync(1, EnrollTimeout);
        await using var upstream = StatusUpstream.Start();
        var upstreamId = await session.CreateUpstreamAsync(upstream.Address);
        var hostA = FleetSession.UniqueServerName();
        var hostB = FleetSession.UniqueServerName();
        var before = await session.ReadApplyStateAsync(agent1);
        var vhostA = await session.CreateVirtualHostAsync(hostA, upstreamId, "replica=1");
        var vhostB = await session.CreateVirtualHostAsync(hostB, upstreamId, "replica=1");
        var run = "/tele-" + Guid.NewGuid().ToString("N")[..12];
        try
        {
            await session.WaitInSyncAsync(agent1, ApplyTimeout, before.DesiredConfigId);
            // Both hosts answered by the new config before the measured requests (the probes are under another prefix).
            foreach (var host in new[] { hostA, hostB })
            {
                await Wait.UntilAsync(async () => (await SendAsync(host, "GET", $"/probe-{run[1..]}/200/2")).Status == 200, ApplyTimeout, $"{host} served");
            }

            var started = DateTimeOffset.UtcNow;
            var sent = new List<Sent>();
            for (var i = 0; i < Pattern.Length * 2; i++)
            {
                var (method, status, bytes) = Pattern[i % Pattern.Length];
                var (host, vhost) = i % 3 == 0 ? (hostB, vhostB) : (hostA, vhostA);
                var uri = $"{run}/{i:D2}/{status}/{bytes}";
                var answer = await SendAsync(host, method, uri, body: method is "POST" or "PUT" ? new string('b', 10 + i) : null);
                Assert.Equal(status, answer.Status);
                Assert.Equal(bytes, answer.Length);
                sent.Add(new Sent(method, uri, host, vhost, status, bytes));
            }

            // Shipped and stored: exactly the requests of this run.
            var window = $"from={Q(TelemetryTime(Floor(started.AddSeconds(-1))))}&to={Q(TelemetryTime(Floor(DateTimeOffset.UtcNow).AddMinutes(2)))}";
            JsonNode page = null!;
            await Wait.UntilAsync(async () => (int)(page = await GetAsync(session, $"/v1/workspaces/{session.WorkspaceId}/access-logs?{window}&uri={Q(run + "/")}&limit=1000"))["meta"]!["total"]! >= sent.Count,
                ShipTimeout, "the run's access-log lines");
            await Task.Delay(TimeSpan.FromSeconds(2));
            page = await GetAsync(session, $"/v1/workspaces/{session.WorkspaceId}/access-logs?{window}&uri={Q(run + "/")}&limit=1000");
            var lines = page["data"]!.AsArray().Select(l => l!).ToList();
            Assert.Equal(sent.Count, (int)page["meta"]!["total"]!);
            Assert.False((bool)page["meta"]!["total_capped"]!);
            Assert.Null((string?)page["meta"]!["next_cursor"]);
            Assert.Equal(sent.Count, lines.Count);
            Assert.Equal(sent.Select(s => s.Uri).Order(StringComparer.Ordinal), lines.Select(l => (string)l["uri"]!).Order(StringComparer.Ordinal));
            foreach (var line in lines)
            {
                var expected = sent.Single(s => s.Uri == (string)line["uri"]!);
                Assert.Equal(expected.Method, (string?)line["method"]);
                Assert.Equal(expected.Host, (string?)line["host"]);
                Assert.Equal(expected.Status, (int)line["status"]!);
                Assert.Equal(expected.Bytes, (long)line["body_bytes_sent"]!);
                Assert.True((long)line["bytes_sent"]! > expected.Bytes, line.ToJsonString());
                Assert.True((long)line["request_length"]! > 0, line.ToJsonString());
                Assert.Equal(agent1, Guid.Parse((string)line["agent_id"]!));
                Assert.Equal(expected.VirtualHostId, Guid.Parse((string)line["virtual_host_id"]!));
                Assert.Equal("HTTP/1.1", (string?)line["protocol"]);
                Assert.Matches("^[0-9a-f]{32}$", (string)line["request_id"]!);
                Assert.False(string.IsNullOrEmpty((string?)line["remote_addr"]));
                Assert.True((double)line["response_time_ms"]! >= 0);
                var timestamp = DateTimeOffset.Parse((string)line["timestamp"]!, CultureInfo.InvariantCulture);
                Assert.InRange(timestamp, started.AddSeconds(-2), DateTimeOffset.UtcNow);
            }
            Assert.Equal(lines.Count, lines.Select(l => (string)l["request_id"]!).Distinct().Count());
            Assert.Equal(lines.Count, lines.Select(l => (string)l["id"]!).Distinct().Count());
            var timestamps = lines.Select(l => DateTimeOffset.Parse((string)l["timestamp"]!, CultureInfo.InvariantCulture)).ToList();
            Assert.Equal(timestamps.OrderDescending(), timestamps);

            // Filters, each combined with the run's prefix: the API returns exactly the matching subset.
            var logs = $"/v1/workspaces/{session.WorkspaceId}/access-logs?{window}&uri={Q(run + "/")}&limit=1000";
            await AssertSubsetAsync(session, logs + "&status_code=5xx", sent.Where(s => s.Status >= 500));
            await AssertSubsetAsync(session, logs + "&status_code=404", sent.Where(s => s.Status == 404));
            await AssertSubsetAsync(session, logs + $"&host={Q(hostB.ToUpperInvariant())}", sent.Where(s => s.Host == hostB));
            await AssertSubsetAsync(session, logs + "&method=post", sent.Where(s => s.Method == "POST"));
            await AssertSubsetAsync(session, logs + $"&agent_id={agent1}&status_code=3xx&method=GET", sent.Where(s => s.Status is >= 300 and < 400));
            await AssertSubsetAsync(session, $"/v1/workspaces/{session.WorkspaceId}/access-logs?{window}&uri={Q(run + "/1")}", sent.Where(s => s.Uri.StartsWith(run + "/1", StringComparison.Ordinal)));
            await AssertSubsetAsync(session, logs + $"&remote_addr={Q((string)lines[0]["remote_addr"]!)}", sent);
            await AssertSubsetAsync(session, logs + $"&agent_id={Guid.NewGuid()}", []);

            // The cursor: pages of 5, newest first, together exactly the single page, none twice.
            var paged = new List<string>();
            string? cursor = null;
            var pages = 0;
            do
            {
                var next = await GetAsync(session, $"{logs.Replace("&limit=1000", "&limit=5", StringComparison.Ordinal)}{(cursor is null ? "" : "&cursor=" + cursor)}");
                Assert.Equal(sent.Count, (int)next["meta"]!["total"]!);
                var data = next["data"]!.AsArray();
                Assert.InRange(data.Count, 1, 5);
                paged.AddRange(data.Select(l => (string)l!["id"]!));
                cursor = (string?)next["meta"]!["next_cursor"];
                Assert.True(++pages <= 10, "the cursor ends");
            }
            while (cursor is not null);
            Assert.Equal(lines.Select(l => (string)l["id"]!), paged);
            Assert.Equal((sent.Count + 4) / 5, pages);

            // Metrics over the window count these requests. Other traffic may reach the fleet in the same minutes, so
            // the metrics are compared with every access-log line of the window (paged with the cursor), and the
            // run's own requests must be among them.
            await AssertMetricsCountAsync(session, $"/v1/agents/{agent1}/metrics?{window}", $"/v1/workspaces/{session.WorkspaceId}/access-logs?{window}&agent_id={agent1}", sent);
            await AssertMetricsCountAsync(session, $"/v1/workspaces/{session.WorkspaceId}/metrics?{window}", $"/v1/workspaces/{session.WorkspaceId}/access-logs?{window}", sent);
        }
        finally
        {
            await session.DeleteAsync($"/v1/virtual-hosts/{vhostA}");
            await session.DeleteAsync($"/v1/virtual-hosts/{vhostB}");
            await session.DeleteAsync($"/v1/upstreams/{upstreamId}");
        }
    }

    private static async Task AssertSubsetAsync(FleetSession session, string path, IEnumerable<Sent> expected)
    {
        var page = await GetAsync(session, path);
        var uris = page["data"]!.AsArray().Select(l => (string)l!["uri"]!).Order(StringComparer.Ordinal).ToList();
        var want = expected.Select(s => s.Uri).Order(StringComparer.Ordinal).ToList();
        Assert.True(want.SequenceEqual(uris), $"{path}: expected [{string.Join(", ", want)}], got [{string.Join(", ", uris)}]");
        Assert.Equal(want.Count, (int)page["meta"]!["total"]!);
    }

    private static async Task AssertMetricsCountAsync(FleetSession session, string metricsPath, string logsPath, List<Sent> sent)
    {
        Totals fromLogs = default;
        JsonNode metrics = null!;
        // Lines of other traffic may still be arriving for the window: bounded retry until both views agree.
        await Wait.UntilAsync(async () =>
        {
            var lines = await AllLinesAsync(session, logsPath);
            fromLogs = Totals.Of(lines);
            metrics = await GetAsync(session, metricsPath);
            var again = Totals.Of(await AllLinesAsync(session, logsPath));
            return again == fromLogs && Totals.Of(metrics) == fromLogs;
        }, TimeSpan.FromSeconds(30), $"{metricsPath} to equal the sums of {logsPath}");

        var mine = sent.Count;
        Assert.True((long)metrics["requests_total"]! >= mine, metrics.ToJsonString());
        var classes = metrics["status_codes"]!;
        Assert.True((long)classes["2xx"]! >= sent.Count(s => s.Status is >= 200 and < 300));
        Assert.True((long)classes["3xx"]! >= sent.Count(s => s.Status is >= 300 and < 400));
        Assert.True((long)classes["4xx"]! >= sent.Count(s => s.Status is >= 400 and < 500));
        Assert.True((long)classes["5xx"]! >= sent.Count(s => s.Status >= 500));
        Assert.True((long)metrics["bandwidth"]!["out_bytes"]! > sent.Sum(s => s.Bytes));
        var requests = (long)metrics["requests_total"]!;
        Assert.Equal(Math.Round((double)(long)classes["5xx"]! / requests, 6), (double)metrics["error_rate"]!, 6);
    }

    private static async Task<List<JsonNode>> AllLinesAsync(FleetSession session, string path)
    {
        var lines = new List<JsonNode>();
        string? cursor = null;
        for (var pages = 0; pages < 100; pages++)
        {
            var page = await GetAsync(session, $"{path}&limit=1000{(cursor is null ? "" : "&cursor=" + cursor)}");
            lines.AddRange(page["data"]!.AsArray().Select(l => l!));
            cursor = (string?)page["meta"]!["next_cursor"];
            if (cursor is null)
            {
                return lines;
            }
        }
        throw new InvalidOperationException($"{path}: more than 100 pages");
    }

    private async Task<(int Status, int Length)> SendAsync(string host, string method, string uri, string? body = null)
    {
        using var handler = new SocketsHttpHandler { AllowAutoRedirect = false };
        using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(10) };
        using var request = new HttpRequestMessage(new HttpMethod(method), new Uri($"http://{fleet.AgentAddressPrefix}11:{80 + fleet.AgentPortOffset}{uri}"));
        request.Headers.Host = host;
        if (body is not null)
        {
            request.Content = new StringContent(body);
        }
        using var response = await http.SendAsync(request);
        return ((int)response.StatusCode, (await response.Content.ReadAsByteArrayAsync()).Length);
    }

    private static async Task<JsonNode> GetAsync(FleetSession session, string path)
    {
        using var response = await session.Http.GetAsync(new Uri(path, UriKind.Relative));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {path}: {(int)response.StatusCode} {text}");
        return JsonNode.Parse(text)!;
    }

    private static DateTimeOffset Floor(DateTimeOffset t) => new(t.UtcTicks - t.UtcTicks % TimeSpan.TicksPerMinute, TimeSpan.Zero);

    private static string TelemetryTime(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static string Q(string value) => Uri.EscapeDataString(value);

    private sealed record Sent(string Method, string Uri, string Host, Guid VirtualHostId, int Status, int Bytes);

    /// <summary>What the metrics endpoints report, computed from access-log lines or read from a metrics answer.</summary>
    private readonly record struct Totals(long Requests, long S2, long S3, long S4, long S5, long In, long Out)
    {
        public static Totals Of(List<JsonNode> lines)
        {
            var statuses = lines.Select(l => (int)l["status"]!).ToList();
            return new Totals(lines.Count, statuses.Count(s => s is >= 200 and < 300), statuses.Count(s => s is >= 300 and < 400),
                statuses.Count(s => s is >= 400 and < 500), statuses.Count(s => s is >= 500 and < 600),
                lines.Sum(l => (long)l["request_length"]!), lines.Sum(l => (long)l["bytes_sent"]!));
        }

        public static Totals Of(JsonNode m) => new((long)m["requests_total"]!, (long)m["status_codes"]!["2xx"]!, (long)m["status_codes"]!["3xx"]!,
            (long)m["status_codes"]!["4xx"]!, (long)m["status_codes"]!["5xx"]!, (long)m["bandwidth"]!["in_bytes"]!, (long)m["bandwidth"]!["out_bytes"]!);
    }
}
