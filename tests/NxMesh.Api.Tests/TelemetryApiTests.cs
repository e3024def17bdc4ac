using System.Net;
using Npgsql;
using Xunit;

namespace NxMesh.Api.Tests;

[Collection(ApiCollection.Name)]
public sealed class TelemetryApiTests(ApiFixture api) : IAsyncLifetime
{
    private static readonly DateTimeOffset Base = new DateTimeOffset(DateTime.UtcNow.Date, TimeSpan.Zero).AddHours(-6);
    private const string Window = "from={0:yyyy-MM-ddTHH:mm:ssZ}&to={1:yyyy-MM-ddTHH:mm:ssZ}";

    public Task InitializeAsync() => api.ResetAsync();
    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Access_logs_are_filtered_by_every_parameter_with_the_spec_fields_and_only_from_the_callers_workspace()
    {
        var a = await Tenants.CreateAsync(api, "alpha");
        var b = await Tenants.CreateAsync(api, "bravo");
        var web1 = await Tenants.SeedAgentAsync(api, a.WorkspaceId, "web-1", []);
        var web2 = await Tenants.SeedAgentAsync(api, a.WorkspaceId, "web-2", []);
        var other = await Tenants.SeedAgentAsync(api, b.WorkspaceId, "web-b", []);
        var vhost = Guid.NewGuid();
        await InsertAsync(a.WorkspaceId, web1.Id, Base.AddMinutes(1), "GET", "/api/users", "api.example.com", 200, "192.168.1.100", vhost);
        await InsertAsync(a.WorkspaceId, web1.Id, Base.AddMinutes(2), "POST", "/api/users", "api.example.com", 201, "192.168.1.101");
        await InsertAsync(a.WorkspaceId, web1.Id, Base.AddMinutes(3), "GET", "/api/error", "api.example.com", 500, "192.168.1.100");
        await InsertAsync(a.WorkspaceId, web2.Id, Base.AddMinutes(4), "GET", "/static/app.js", "www.example.com", 304, "10.0.0.7");
        await InsertAsync(a.WorkspaceId, web2.Id, Base.AddMinutes(5), "DELETE", "/api/users/7", "api.example.com", 503, "10.0.0.7");
        await InsertAsync(a.WorkspaceId, web2.Id, Base.AddMinutes(6), "GET", "/missing", "www.example.com", 404, "10.0.0.8");
        await InsertAsync(a.WorkspaceId, web2.Id, Base.AddHours(-3), "GET", "/old", "www.example.com", 200, "10.0.0.8");
        await InsertAsync(b.WorkspaceId, other.Id, Base.AddMinutes(2), "GET", "/api/users", "api.example.com", 500, "192.168.1.100");
        var window = string.Format(System.Globalization.CultureInfo.InvariantCulture, Window, Base, Base.AddHours(1));

        async Task<List<string>> Uris(string filter, string? otherWindow = null)
        {
            var page = await (await a.Owner.GetAsync($"/v1/workspaces/{a.WorkspaceId}/access-logs?{otherWindow ?? window}&{filter}")).JsonAsync(HttpStatusCode.OK);
            var uris = page.GetProperty("data").EnumerateArray().Select(e => $"{e.GetProperty("method").GetString()} {e.GetProperty("uri").GetString()}").ToList();
            Assert.Equal(uris.Count, page.GetProperty("meta").GetProperty("total").GetInt32());
            return uris;
        }

        Assert.Equal(["GET /missing", "DELETE /api/users/7", "GET /static/app.js", "GET /api/error", "POST /api/users", "GET /api/users"], await Uris(""));
        Assert.Equal(["GET /api/error"], await Uris("status_code=500"));
        Assert.Equal(["DELETE /api/users/7", "GET /api/error"], await Uris("status_code=5xx"));
        Assert.Equal(["POST /api/users", "GET /api/users"], await Uris("status_code=2XX"));
        Assert.Equal(["GET /api/error", "POST /api/users", "GET /api/users"], await Uris($"agent_id={web1.Id}"));
        Assert.Equal(["GET /missing", "GET /static/app.js"], await Uris("host=www.example.com"));
        Assert.Equal(["DELETE /api/users/7"], await Uris("method=delete"));
        Assert.Equal(["DELETE /api/users/7", "POST /api/users", "GET /api/users"], await Uris("uri=/api/users"));
        // The prefix is literal: LIKE's wildcards in it match only themselves.
        Assert.Empty(await Uris("uri=/api_users"));
        Assert.Empty(await Uris("uri=/api%25"));
        Assert.Empty(await Uris("uri=/api%5C"));
        Assert.Equal(["GET /api/error", "GET /api/users"], await Uris("remote_addr=192.168.1.100"));
        Assert.Equal(["GET /api/error"], await Uris("remote_addr=192.168.1.100&status_code=5xx&method=GET&uri=/api/"));
        Assert.Equal(["GET /old"], await Uris("", string.Format(System.Globalization.CultureInfo.InvariantCulture, Window, Base.AddHours(-4), Base.AddHours(-2))));
        Assert.Empty(await Uris($"agent_id={other.Id}"));

        var first = await (await a.Owner.GetAsync($"/v1/workspaces/{a.WorkspaceId}/access-logs?{window}&uri=/api/users&method=GET&limit=1"))
            .JsonAsync(HttpStatusCode.OK);
        SpecExamples.AssertShape(SpecExamples.Response("Query Access Logs"), first,
            ["$.data[].virtual_host_id", "$.data[].request_length", "$.data[].bytes_sent", "$.data[].upstream_response_time_ms",
             "$.meta.total_capped", "$.meta.next_cursor"],
            ["$.meta.next_cursor"]);
        var line = first.GetProperty("data")[0];
        Assert.Equal(web1.Id, line.GetProperty("agent_id").GetGuid());
        Assert.Equal(vhost, line.GetProperty("virtual_host_id").GetGuid());
        Assert.Equal(("HTTP/1.1", 123L, 150.5, "Mozilla/5.0", "https://example.com/", 40L, 400L, 120.25),
            (line.GetProperty("protocol").GetString(), line.GetProperty("body_bytes_sent").GetInt64(), line.GetProperty("response_time_ms").GetDouble(),
             line.GetProperty("user_agent").GetString(), line.GetProperty("referer").GetString(), line.GetProperty("request_length").GetInt64(),
             line.GetProperty("bytes_sent").GetInt64(), line.GetProperty("upstream_response_time_ms").GetDouble()));
        Assert.Equal(Base.AddMinutes(1), line.GetProperty("timestamp").GetDateTimeOffset());
        Assert.Equal(1, first.GetProperty("meta").GetProperty("limit").GetInt32());

        // The other tenant sees nothing of it.
        await (await b.Owner.GetAsync($"/v1/workspaces/{a.WorkspaceId}/access-logs?{window}")).ErrorAsync(HttpStatusCode.NotFound, "NOT_FOUND");
        var theirs = await (await b.Owner.GetAsync($"/v1/workspaces/{b.WorkspaceId}/access-logs?{window}")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(other.Id, Assert.Single(theirs.GetProperty("data").EnumerateArray().ToList()).GetProperty("agent_id").GetGuid());
    }

    [Fact]
    public async Task The_cursor_pages_through_every_line_once_newest_first_and_the_total_is_capped_and_says_so()
    {
        var a = await Tenants.CreateAsync(api, "alpha");
        var agent = await Tenants.SeedAgentAsync(api, a.WorkspaceId, "web-1", []);
        // Three lines share one timestamp: the id breaks the tie.
        for (var i = 0; i < 25; i++)
        {
            await InsertAsync(a.WorkspaceId, agent.Id, Base.AddSeconds(i < 3 ? 0 : i), "GET", $"/p/{i}", "a.example.com", 200, "10.0.0.1");
        }
        var window = string.Format(System.Globalization.CultureInfo.InvariantCulture, Window, Base, Base.AddHours(1));
        var seen = new List<string>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var page = await (await a.Owner.GetAsync($"/v1/workspaces/{a.WorkspaceId}/access-logs?{window}&limit=10" + (cursor is null ? "" : $"&cursor={cursor}")))
                .JsonAsync(HttpStatusCode.OK);
            Assert.Equal(25, page.GetProperty("meta").GetProperty("total").GetInt32());
            Assert.False(page.GetProperty("meta").GetProperty("total_capped").GetBoolean());
            seen.AddRange(page.GetProperty("data").EnumerateArray().Select(e => e.GetProperty("uri").GetString()!));
            cursor = page.GetProperty("meta").GetProperty("next_cursor").GetString();
            pages++;
        }
        while (cursor is not null && pages < 10);

        Assert.Equal(3, pages);
        Assert.Equal(25, seen.Distinct().Count());
        Assert.Equal(Enumerable.Range(3, 22).Reverse().Select(i => $"/p/{i}"), seen.Take(22));
        Assert.Equal(["/p/0", "/p/1", "/p/2"], seen.Skip(22).Order());

        await using (var connection = new NpgsqlConnection(api.Database.ConnectionString))
        {
            await connection.OpenAsync();
            await using var bulk = new NpgsqlCommand("""
                INSERT INTO access_log_entries (id, agent_id, workspace_id, "timestamp", status, body_bytes_sent, request_length, bytes_sent, response_time_ms, batch_id)
                SELECT gen_random_uuid(), $1, $2, $3, 200, 0, 0, 0, 1, gen_random_uuid() FROM generate_series(1, 10050)
                """, connection);
            bulk.Parameters.Add(new NpgsqlParameter { Value = agent.Id });
            bulk.Parameters.Add(new NpgsqlParameter { Value = a.WorkspaceId });
            bulk.Parameters.Add(new NpgsqlParameter { Value = Base.AddMinutes(30) });
            await bulk.ExecuteNonQueryAsync();
        }
        var capped = await (await a.Owner.GetAsync($"/v1/workspaces/{a.WorkspaceId}/access-logs?{window}&limit=1000")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal((10_000, true, 1000), (capped.GetProperty("meta").GetProperty("total").GetInt32(),
            capped.GetProperty("meta").GetProperty("total_capped").GetBoolean(), capped.GetProperty("data").GetArrayLength()));
    }

    [Theory]
    [InlineData("access-logs", "limit=0", "limit")]
    [InlineData("access-logs", "limit=1001", "limit")]
    [InlineData("access-logs", "limit=ten", "limit")]
    [InlineData("access-logs", "status_code=600", "status_code")]
    [InlineData("access-logs", "status_code=6xx", "status_code")]
    [InlineData("access-logs", "status_code=5x", "status_code")]
    [InlineData("access-logs", "agent_id=web-1", "agent_id")]
    [InlineData("access-logs", "cursor=not-a-cursor", "cursor")]
    [InlineData("access-logs", "method=", "method")]
    [InlineData("access-logs", "from=yesterday", "from")]
    [InlineData("access-logs", "from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z", "from")]
    [InlineData("metrics", "to=2026-13-01T00:00:00Z", "to")]
    [InlineData("metrics", "from=2026-03-01T00:00:00Z&to=2026-03-01T00:00:00Z", "from")]
    [InlineData("metrics", "step=30s", "step")]
    [InlineData("metrics", "step=90s", "step")]
    [InlineData("metrics", "step=often", "step")]
    [InlineData("metrics", "from=2026-01-01T00:00:00Z&to=2026-03-01T00:00:00Z&step=1m", "step")]
    public async Task Bad_parameters_answer_422_naming_the_field(string resource, string query, string field)
    {
        var a = await Tenants.CreateAsync(api, "alpha");
        var error = await (await a.Owner.GetAsync($"/v1/workspaces/{a.WorkspaceId}/{resource}?{query}")).ErrorAsync(HttpStatusCode.UnprocessableEntity, "VALIDATION_ERROR");
        Assert.Contains(field, error.Details().Select(d => d.Field));
    }

    [Fact]
    public async Task Metrics_sum_the_rollups_of_the_window_per_workspace_and_per_agent_with_an_optional_series()
    {
        var a = await Tenants.CreateAsync(api, "alpha");
        var b = await Tenants.CreateAsync(api, "bravo");
        var web1 = await Tenants.SeedAgentAsync(api, a.WorkspaceId, "web-1", []);
        var web2 = await Tenants.SeedAgentAsync(api, a.WorkspaceId, "web-2", []);
        var other = await Tenants.SeedAgentAsync(api, b.WorkspaceId, "web-b", []);
        await RollupAsync(web1.Id, a.WorkspaceId, Base.AddMinutes(0), requests: 100, s2: 90, s3: 5, s4: 3, s5: 2, bytesIn: 1000, bytesOut: 50_000, active: 5);
        await RollupAsync(web1.Id, a.WorkspaceId, Base.AddMinutes(7), requests: 50, s2: 50, s3: 0, s4: 0, s5: 0, bytesIn: 500, bytesOut: 10_000, active: 8);
        await RollupAsync(web2.Id, a.WorkspaceId, Base.AddMinutes(3), requests: 10, s2: 0, s3: 0, s4: 2, s5: 8, bytesIn: 100, bytesOut: 1_000, active: 2);
        await RollupAsync(web2.Id, a.WorkspaceId, Base.AddMinutes(12), requests: 1, s2: 1, s3: 0, s4: 0, s5: 0, bytesIn: 1, bytesOut: 1, active: null);
        await RollupAsync(other.Id, b.WorkspaceId, Base.AddMinutes(1), requests: 999, s2: 999, s3: 0, s4: 0, s5: 0, bytesIn: 9, bytesOut: 9, active: 99);
        var window = string.Format(System.Globalization.CultureInfo.InvariantCulture, Window, Base, Base.AddMinutes(10));

        var workspace = await (await a.Owner.GetAsync($"/v1/workspaces/{a.WorkspaceId}/metrics?{window}")).JsonAsync(HttpStatusCode.OK);
        SpecExamples.AssertShape(SpecExamples.Response("Get Workspace Metrics"), workspace, ["$.from", "$.to", "$.step_seconds"], ["$.step_seconds"]);
        Assert.Equal(160, workspace.GetProperty("requests_total").GetInt64());
        Assert.Equal(Math.Round(160 / 600.0, 3), workspace.GetProperty("requests_per_second").GetDouble());
        Assert.Equal(Math.Round(10 / 160.0, 6), workspace.GetProperty("error_rate").GetDouble());
        Assert.Equal(10, workspace.GetProperty("active_connections").GetInt64());
        Assert.Equal((1600L, 61_000L), (workspace.GetProperty("bandwidth").GetProperty("in_bytes").GetInt64(), workspace.GetProperty("bandwidth").GetProperty("out_bytes").GetInt64()));
        Assert.Equal([140L, 5L, 5L, 10L], new[] { "2xx", "3xx", "4xx", "5xx" }.Select(c => workspace.GetProperty("status_codes").GetProperty(c).GetInt64()));
        Assert.False(workspace.TryGetProperty("series", out _));

        var agent = await (await a.Owner.GetAsync($"/v1/agents/{web2.Id}/metrics?{window}")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal((10L, 0.8, 2L), (agent.GetProperty("requests_total").GetInt64(), agent.GetProperty("error_rate").GetDouble(), agent.GetProperty("active_connections").GetInt64()));

        var series = await (await a.Owner.GetAsync($"/v1/workspaces/{a.WorkspaceId}/metrics?{window}&step=5m")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(300, series.GetProperty("step_seconds").GetInt32());
        var points = series.GetProperty("series").EnumerateArray().ToList();
        Assert.Equal([Base, Base.AddMinutes(5)], points.Select(p => p.GetProperty("timestamp").GetDateTimeOffset()));
        Assert.Equal([110L, 50L], points.Select(p => p.GetProperty("requests_total").GetInt64()));
        Assert.Equal([7L, 8L], points.Select(p => p.GetProperty("active_connections").GetInt64()));

        var empty = await (await a.Owner.GetAsync($"/v1/workspaces/{a.WorkspaceId}/metrics?from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal((0L, 0.0, 0L), (empty.GetProperty("requests_total").GetInt64(), empty.GetProperty("error_rate").GetDouble(), empty.GetProperty("active_connections").GetInt64()));

        await (await b.Owner.GetAsync($"/v1/workspaces/{a.WorkspaceId}/metrics")).ErrorAsync(HttpStatusCode.NotFound, "NOT_FOUND");
        await (await b.Owner.GetAsync($"/v1/agents/{web1.Id}/metrics")).ErrorAsync(HttpStatusCode.NotFound, "NOT_FOUND");
    }

    private async Task InsertAsync(Guid workspaceId, Guid agentId, DateTimeOffset at, string method, string uri, string host, int status, string remote, Guid? vhost = null)
    {
        await using var connection = new NpgsqlConnection(api.Database.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("""
            INSERT INTO access_log_entries (id, agent_id, workspace_id, virtual_host_id, "timestamp", remote_addr, method, uri, protocol, host, status,
                body_bytes_sent, request_length, bytes_sent, response_time_ms, upstream_response_time_ms, user_agent, referer, request_id, batch_id)
            VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $6, $7, 'HTTP/1.1', $8, $9, 123, 40, 400, 150.5, 120.25, 'Mozilla/5.0',
                'https://example.com/', 'req-' || $7, gen_random_uuid())
            """, connection);
        foreach (var value in new object[] { agentId, workspaceId, (object?)vhost ?? DBNull.Value, at, remote, method, uri, host, status })
        {
            command.Parameters.Add(new NpgsqlParameter { Value = value });
        }
        await command.ExecuteNonQueryAsync();
    }

    private async Task RollupAsync(Guid agentId, Guid workspaceId, DateTimeOffset minute, long requests, long s2, long s3, long s4, long s5,
        long bytesIn, long bytesOut, double? active)
    {
        await using var connection = new NpgsqlConnection(api.Database.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("""
            INSERT INTO telemetry_rollups (agent_id, minute, workspace_id, requests, status_2xx, status_3xx, status_4xx, status_5xx, bytes_in, bytes_out,
                response_time_ms_sum, active_connections, active_connections_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, $11, $12)
            """, connection);
        foreach (var value in new object[] { agentId, minute, workspaceId, requests, s2, s3, s4, s5, bytesIn, bytesOut,
                     (object?)active ?? DBNull.Value, active is null ? DBNull.Value : minute.AddSeconds(30) })
        {
            command.Parameters.Add(new NpgsqlParameter { Value = value });
        }
        await command.ExecuteNonQueryAsync();
    }
}
