extern alias agenthub;

using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Grpc.Core;
using Google.Protobuf;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Npgsql;
using NxMesh.Data.Entities;
using NxMesh.Data.Security;
using NxMesh.Data.Telemetry;
using NxMesh.Protocol.V1;
using NxMesh.Testing;

// dotnet run -c Release --project bench/NxMesh.IngestBench -- [--agents 8] [--batch 500] [--window 8] [--seconds 30]
//     [--rows 10000000 (0: ingest only)] [--hours 24] [--iterations 100] [--out bench/results] [--name ingest-bench]
//     [--format typed|map (LogBatch.access records, or the older LogEntry maps)]
if (args.Contains("--help"))
{
    Console.WriteLine("""
        dotnet run -c Release --project bench/NxMesh.IngestBench -- [options]
          --agents 8          agent streams                     --batch 500     access-log lines per LogBatch
          --window 8          unacknowledged batches per stream --seconds 30    measured ingest time (after --warmup 5)
          --format typed|map  LogBatch.access records (default) or the older LogEntry maps
          --rows 10000000     rows for the query phase (0: ingest only)  --hours 24  --iterations 100
          --without-filter-indexes  ingest without the four filter indexes (what they cost per row; use with --rows 0)
          --explain           print EXPLAIN (ANALYZE, BUFFERS) of each query shape for one window
          --out bench/results --name ingest-bench
        """);
    return;
}
var options = BenchOptions.Parse(args);
Console.WriteLine($"Ingest benchmark: {options.Agents} agents × batches of {options.BatchSize}, {options.Window} in flight each, {options.Seconds} s; then queries over {options.QueryRows:N0} rows.");

var database = new DatabaseFixture();
await database.InitializeAsync();
try
{
    var workspaceId = await SeedWorkspaceAsync(database);
    var agents = new List<(Guid Id, string Credential)>();
    for (var i = 0; i < options.Agents; i++)
    {
        agents.Add(await SeedAgentAsync(database, workspaceId, i));
    }
    await using var dataSource = NpgsqlDataSource.Create(database.ConnectionString);
    var today = DateOnly.FromDateTime(DateTime.UtcNow);
    await TelemetryPartitions.EnsureAsync(dataSource, today.AddDays(-2), today.AddDays(1), default);

    if (options.WithoutFilterIndexes)
    {
        // Measurement only: what the filter indexes cost the ingest (Postgres CPU per row) — the API needs them.
        await using var drop = dataSource.CreateCommand("""
            DROP INDEX ix_access_log_entries_workspace_status_time, ix_access_log_entries_workspace_host_time,
                ix_access_log_entries_workspace_uri_time, ix_access_log_entries_workspace_agent_time
            """);
        await drop.ExecuteNonQueryAsync();
    }
    Console.WriteLine("Load average before ingest: " + (File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "n/a"));
    IngestResult ingest;
    await using (var hub = new BenchHub(database, options))
    {
        ingest = await IngestAsync(hub, agents, options);
    }
    var stored = await ScalarAsync<long>(dataSource, "SELECT count(*) FROM access_log_entries");
    Console.WriteLine($"Ingest: {ingest.RowsPerSecond:N0} rows/s, lag p50 {ingest.LagP50Ms:N0} ms, p99 {ingest.LagP99Ms:N0} ms; stored {stored:N0} = acked {ingest.AckedRows:N0}.");

    var query = options.QueryRows > 0 ? await QueryBenchAsync(dataSource, workspaceId, agents.Select(a => a.Id).ToList(), options) : [];
    await WriteResultsAsync(options, ingest, stored, query);
}
finally
{
    await database.DisposeAsync();
}

static async Task<IngestResult> IngestAsync(BenchHub hub, List<(Guid Id, string Credential)> agents, BenchOptions options)
{
    // AgentService.Stream with the request side as raw bytes (an AgentMessage already encoded).
    var preSerializedStream = new Method<byte[], MasterMessage>(MethodType.DuplexStreaming, AgentService.Descriptor.FullName, "Stream",
        Marshallers.Create(bytes => bytes, bytes => bytes), Marshallers.Create(m => m.ToByteArray(), MasterMessage.Parser.ParseFrom));
    var lags = new ConcurrentBag<double>();
    long ackedRows = 0, ackedBatches = 0, failedAcks = 0;
    var measuring = false;
    var stopSending = new CancellationTokenSource();
    var started = Stopwatch.StartNew();
    double measureStart = 0;
    long rowsAtMeasureStart = 0;
    var tasks = agents.Select(async (agent, index) =>
    {
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{hub.GrpcPort}");
        using var call = channel.CreateCallInvoker().AsyncDuplexStreamingCall(preSerializedStream, null,
            new CallOptions(new Metadata { { "x-nxmesh-agent-id", agent.Id.ToString("D") }, { "authorization", "Bearer " + agent.Credential } }));
        await call.RequestStream.WriteAsync(new AgentMessage { Registration = new RegistrationRequest { Hostname = $"bench-{index}", Version = "bench" } }.ToByteArray());
        if (!await call.ResponseStream.MoveNext() || call.ResponseStream.Current.RegistrationResponse is not { Success: true })
        {
            throw new InvalidOperationException("registration failed");
        }
        // The simulated agents send pre-serialized batches: the entries are encoded once per template and each batch
        // appends its own batch_id (protobuf merges a repeated embedded message), so the process's CPU goes to the hub.
        var templates = Enumerable.Range(0, 16).Select(t => new AgentMessage { Logs = Template(options.BatchSize, index, t, options.MapForm) }.ToByteArray()).ToList();
        var window = new SemaphoreSlim(options.Window);
        var sent = new ConcurrentDictionary<string, long>();
        var reader = Task.Run(async () =>
        {
            while (await call.ResponseStream.MoveNext())
            {
                if (call.ResponseStream.Current.Ack is { } ack && sent.TryRemove(ack.MessageId, out var at))
                {
                    if (!ack.Success)
                    {
                        Interlocked.Increment(ref failedAcks);
                    }
                    else
                    {
                        Interlocked.Add(ref ackedRows, options.BatchSize);
                        Interlocked.Increment(ref ackedBatches);
                        if (Volatile.Read(ref measuring))
                        {
                            lags.Add(Stopwatch.GetElapsedTime(at).TotalMilliseconds);
                        }
                    }
                    window.Release();
                }
            }
        });
        var n = 0;
        while (!stopSending.IsCancellationRequested)
        {
            try
            {
                await window.WaitAsync(stopSending.Token);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            var batchId = Guid.NewGuid().ToString("D");
            var template = templates[n++ % templates.Count];
            var tail = new AgentMessage { Logs = new LogBatch { BatchId = batchId } }.ToByteArray();
            var message = new byte[template.Length + tail.Length];
            template.CopyTo(message, 0);
            tail.CopyTo(message, template.Length);
            sent[batchId] = Stopwatch.GetTimestamp();
            await call.RequestStream.WriteAsync(message);
        }
        // Everything sent is acknowledged before the stream closes (bounded).
        var deadline = Stopwatch.StartNew();
        while (!sent.IsEmpty && deadline.Elapsed < TimeSpan.FromSeconds(60))
        {
            await Task.Delay(50);
        }
        await call.RequestStream.CompleteAsync();
        try
        {
            await reader.WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception ex) when (ex is TimeoutException or RpcException)
        {
        }
    }).ToList();

    await Task.Delay(TimeSpan.FromSeconds(options.WarmupSeconds));
    var cpuAtStart = CpuSeconds(hub.PostgresPort);
    rowsAtMeasureStart = Interlocked.Read(ref ackedRows);
    measureStart = started.Elapsed.TotalSeconds;
    Volatile.Write(ref measuring, true);
    await Task.Delay(TimeSpan.FromSeconds(options.Seconds));
    var rowsAtEnd = Interlocked.Read(ref ackedRows);
    var elapsed = started.Elapsed.TotalSeconds - measureStart;
    var cpuAtEnd = CpuSeconds(hub.PostgresPort);
    var cpu = (Bench: cpuAtEnd.Bench - cpuAtStart.Bench, Postgres: cpuAtEnd.Postgres - cpuAtStart.Postgres);
    Volatile.Write(ref measuring, false);
    stopSending.Cancel();
    await Task.WhenAll(tasks);
    var sorted = lags.Order().ToArray();
    return new IngestResult(options.Agents, options.BatchSize, options.Window, Math.Round(elapsed, 1), rowsAtEnd - rowsAtMeasureStart,
        Math.Round((rowsAtEnd - rowsAtMeasureStart) / elapsed), Percentile(sorted, 0.50), Percentile(sorted, 0.99), Percentile(sorted, 1.0),
        Interlocked.Read(ref ackedRows), Interlocked.Read(ref ackedBatches), Interlocked.Read(ref failedAcks),
        Math.Round(cpu.Bench, 1), Math.Round(cpu.Postgres, 1), Math.Round((rowsAtEnd - rowsAtMeasureStart) / Math.Max(0.001, cpu.Bench + cpu.Postgres)));
}

// CPU seconds of this process (AgentHub + the agent clients) and of the benchmark's Postgres (postmaster, its live
// children and the children it reaped), from /proc: on a shared machine, rows per CPU-second is what the code costs.
static (double Bench, double Postgres) CpuSeconds(int postgresPort)
{
    var own = Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;
    const double ticks = 100.0;
    double postgres = 0;
    int? postmaster = null;
    var parents = new Dictionary<int, (int Parent, double Own, double Children)>();
    foreach (var dir in Directory.EnumerateDirectories("/proc"))
    {
        if (!int.TryParse(Path.GetFileName(dir), out var pid))
        {
            continue;
        }
        try
        {
            var stat = File.ReadAllText(Path.Combine(dir, "stat"));
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            parents[pid] = (int.Parse(fields[1], CultureInfo.InvariantCulture),
                (double.Parse(fields[11], CultureInfo.InvariantCulture) + double.Parse(fields[12], CultureInfo.InvariantCulture)) / ticks,
                (double.Parse(fields[13], CultureInfo.InvariantCulture) + double.Parse(fields[14], CultureInfo.InvariantCulture)) / ticks);
            var cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")).Split('\0');
            var p = Array.IndexOf(cmdline, "-p");
            if (cmdline[0].EndsWith("/postgres", StringComparison.Ordinal) && p >= 0 && p + 1 < cmdline.Length && cmdline[p + 1] == postgresPort.ToString(CultureInfo.InvariantCulture))
            {
                postmaster = pid;
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
        }
    }
    if (postmaster is { } master && parents.TryGetValue(master, out var m))
    {
        postgres = m.Own + m.Children + parents.Where(p => p.Value.Parent == master).Sum(p => p.Value.Own);
    }
    return (own, postgres);
}

// The typed form (LogBatch.access) is what agents send; --format map sends the older LogEntry map form instead.
static LogBatch Template(int size, int agent, int template, bool mapForm)
{
    string[] hosts = ["api.example.com", "www.example.com", "shop.example.com", "cdn.example.com"];
    string[] methods = ["GET", "GET", "GET", "POST", "PUT", "DELETE"];
    var batch = new LogBatch();
    var now = DateTimeOffset.UtcNow;
    for (var i = 0; i < size; i++)
    {
        var record = new AccessLogRecord
        {
            Timestamp = now.ToUnixTimeMilliseconds(),
            RemoteAddr = $"10.{agent}.{template}.{i % 250}",
            Method = methods[i % methods.Length],
            Uri = $"/api/v1/items/{i * 7919 % 10007}?page={i % 10}",
            Protocol = "HTTP/1.1",
            Host = hosts[i % hosts.Length],
            Status = i % 100 == 0 ? 502 : i % 20 == 0 ? 404 : i % 25 == 0 ? 304 : 200,
            BodyBytesSent = 500 + i % 3000,
            RequestLength = 200 + i % 400,
            BytesSent = 700 + i % 3000,
            ResponseTimeMs = i % 250 / 10.0,
            UpstreamResponseTimeMs = i % 240 / 10.0,
            UserAgent = "Mozilla/5.0 (X11; Linux x86_64) bench",
            Referer = "https://www.example.com/",
            RequestId = Convert.ToHexString(RandomNumberGenerator.GetBytes(16)).ToLowerInvariant(),
            VirtualHostId = "00000000-0000-0000-0000-00000000000" + (i % 4).ToString(CultureInfo.InvariantCulture),
        };
        if (!mapForm)
        {
            batch.Access.Add(record);
            continue;
        }
        batch.Entries.Add(new LogEntry
        {
            Level = "access",
            Timestamp = record.Timestamp,
            Fields =
            {
                ["timestamp"] = (record.Timestamp / 1000.0).ToString("F3", CultureInfo.InvariantCulture),
                ["remote_addr"] = record.RemoteAddr,
                ["method"] = record.Method,
                ["uri"] = record.Uri,
                ["protocol"] = record.Protocol,
                ["host"] = record.Host,
                ["status"] = record.Status.ToString(CultureInfo.InvariantCulture),
                ["body_bytes_sent"] = record.BodyBytesSent.ToString(CultureInfo.InvariantCulture),
                ["request_length"] = record.RequestLength.ToString(CultureInfo.InvariantCulture),
                ["bytes_sent"] = record.BytesSent.ToString(CultureInfo.InvariantCulture),
                ["response_time_ms"] = record.ResponseTimeMs.ToString(CultureInfo.InvariantCulture),
                ["upstream_response_time_ms"] = record.UpstreamResponseTimeMs.ToString(CultureInfo.InvariantCulture),
                ["user_agent"] = record.UserAgent,
                ["referer"] = record.Referer,
                ["request_id"] = record.RequestId,
                ["virtual_host_id"] = record.VirtualHostId,
            },
        });
    }
    return batch;
}

// Loads rows with SQL (not through the hub: 10 M rows through gRPC would take minutes of the same path measured above),
// then runs the access-log endpoint's two statements (the capped count, then the page, newest first, when it is not 0) for random one-hour windows.
static async Task<List<QueryResult>> QueryBenchAsync(NpgsqlDataSource dataSource, Guid workspaceId, List<Guid> agentIds, BenchOptions options)
{
    var existing = await ScalarAsync<long>(dataSource, "SELECT count(*) FROM access_log_entries");
    var missing = Math.Max(0, options.QueryRows - existing);
    var end = DateTimeOffset.UtcNow;
    var start = end.AddHours(-options.QueryHours);
    await TelemetryPartitions.EnsureAsync(dataSource, DateOnly.FromDateTime(start.UtcDateTime), DateOnly.FromDateTime(end.UtcDateTime), default);
    // Loading is not what is measured: the filter indexes are dropped for the bulk insert and built again after it
    // (from their own definitions), which is several times faster than maintaining them row by row.
    var filterIndexes = new List<string>();
    if (missing > 0)
    {
        await using (var definitions = dataSource.CreateCommand("""
            SELECT indexname, indexdef FROM pg_indexes
            WHERE tablename = 'access_log_entries' AND indexname <> 'ix_access_log_entries_workspace_time'
            """))
        await using (var reader = await definitions.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                filterIndexes.Add(reader.GetString(1));
                Console.WriteLine($"  dropping {reader.GetString(0)} for the load");
            }
        }
        foreach (var definition in filterIndexes)
        {
            var name = definition.Split(' ')[2];
            await using var drop = dataSource.CreateCommand($"DROP INDEX {name}");
            await drop.ExecuteNonQueryAsync();
        }
    }
    var load = Stopwatch.StartNew();
    const long chunk = 1_000_000;
    for (long done = 0; done < missing; done += chunk)
    {
        var n = Math.Min(chunk, missing - done);
        await using var command = dataSource.CreateCommand("""
            INSERT INTO access_log_entries (id, agent_id, workspace_id, virtual_host_id, "timestamp", remote_addr, method, uri, protocol, host, status,
                body_bytes_sent, request_length, bytes_sent, response_time_ms, upstream_response_time_ms, user_agent, referer, request_id, batch_id)
            SELECT gen_random_uuid(), ($1::uuid[])[1 + (g % array_length($1::uuid[], 1))], $2, NULL,
                   $3::timestamptz + (random() * $4) * interval '1 second',
                   '10.0.' || (g % 250) || '.' || (g % 199), (ARRAY['GET','GET','GET','POST','PUT','DELETE'])[1 + g % 6],
                   '/api/v1/items/' || (g % 10007), 'HTTP/1.1', (ARRAY['api.example.com','www.example.com','shop.example.com','cdn.example.com'])[1 + g % 4],
                   CASE WHEN g % 100 = 0 THEN 502 WHEN g % 20 = 0 THEN 404 WHEN g % 25 = 0 THEN 304 ELSE 200 END,
                   500 + g % 3000, 200 + g % 400, 700 + g % 3000, (g % 250) / 10.0, (g % 240) / 10.0, 'Mozilla/5.0 bench',
                   'https://www.example.com/', md5(g::text), gen_random_uuid()
            FROM generate_series($5::bigint, $6::bigint) g
            """);
        command.CommandTimeout = 0;
        command.Parameters.Add(new NpgsqlParameter { Value = agentIds.ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = workspaceId });
        command.Parameters.Add(new NpgsqlParameter { Value = start });
        command.Parameters.Add(new NpgsqlParameter { Value = (end - start).TotalSeconds });
        command.Parameters.Add(new NpgsqlParameter { Value = done });
        command.Parameters.Add(new NpgsqlParameter { Value = done + n - 1 });
        await command.ExecuteNonQueryAsync();
        Console.WriteLine($"  loaded {existing + done + n:N0} rows ({load.Elapsed.TotalSeconds:N0} s)");
    }
    foreach (var definition in filterIndexes)
    {
        // pg_indexes shows a partitioned index as "ON ONLY" (the parent alone); without ONLY every partition gets it.
        await using var create = dataSource.CreateCommand(definition.Replace(" ON ONLY ", " ON ", StringComparison.Ordinal));
        create.CommandTimeout = 0;
        await create.ExecuteNonQueryAsync();
        Console.WriteLine($"  built {definition.Split(' ')[2]} ({load.Elapsed.TotalSeconds:N0} s)");
    }
    await using (var analyze = dataSource.CreateCommand("VACUUM ANALYZE access_log_entries"))
    {
        analyze.CommandTimeout = 0;
        await analyze.ExecuteNonQueryAsync();
    }
    var total = await ScalarAsync<long>(dataSource, "SELECT count(*) FROM access_log_entries");
    Console.WriteLine($"Query phase over {total:N0} rows.");

    (string Name, string Filter, object[] Values)[] cases =
    [
        ("one hour, newest 100", "", []),
        ("status_code=5xx", "AND status = ANY($4)", [Enumerable.Range(500, 100).ToArray()]),
        ("status_code=404", "AND status = $4", [404]),
        ("host + method", "AND host = $4 AND method = $5", ["shop.example.com", "PUT"]),
        // The generator never pairs this host with POST: no line matches, so both statements walk every index entry
        // of the host in the window — the worst case of a filter combination without its own index.
        ("host + method, no match", "AND host = $4 AND method = $5", ["shop.example.com", "POST"]),
        ("uri prefix", "AND uri LIKE $4", ["/api/v1/items/99%"]),
        ("agent_id + limit 1000", "AND agent_id = $4", [agentIds[0]]),
    ];
    var results = new List<QueryResult>();
    var random = new Random(42);
    foreach (var (name, filter, values) in cases)
    {
        var limit = name.Contains("1000", StringComparison.Ordinal) ? 1000 : 100;
        var timings = new List<double>();
        for (var i = 0; i < options.QueryIterations + 5; i++)
        {
            var from = start.AddSeconds(random.NextDouble() * ((end - start).TotalSeconds - 3600));
            var watch = Stopwatch.StartNew();
            long matching;
            await using (var count = dataSource.CreateCommand($"""
                SELECT count(*) FROM (SELECT 1 FROM access_log_entries WHERE workspace_id = $1 AND "timestamp" >= $2 AND "timestamp" < $3 {filter} LIMIT 10001) m
                """))
            {
                AddParameters(count, workspaceId, from, from.AddHours(1), values);
                matching = (long)(await count.ExecuteScalarAsync())!;
            }
            // As the endpoint: the capped count first, the page only when something matches.
            if (matching > 0)
            {
                await using (var page = dataSource.CreateCommand($"""
                    SELECT id, agent_id, "timestamp", remote_addr, method, uri, protocol, host, status, body_bytes_sent, response_time_ms,
                           user_agent, referer, request_id, virtual_host_id, request_length, bytes_sent, upstream_response_time_ms
                    FROM access_log_entries WHERE workspace_id = $1 AND "timestamp" >= $2 AND "timestamp" < $3 {filter}
                    ORDER BY "timestamp" DESC, id DESC LIMIT {limit + 1}
                    """))
                {
                    AddParameters(page, workspaceId, from, from.AddHours(1), values);
                    await using var reader = await page.ExecuteReaderAsync();
                    while (await reader.ReadAsync())
                    {
                    }
                }
            }
            if (i >= 5)
            {
                timings.Add(watch.Elapsed.TotalMilliseconds);
            }
        }
        if (options.Explain)
        {
            // The plans of one window, printed (not written to the results): what each statement reads.
            var from = start.AddSeconds(random.NextDouble() * ((end - start).TotalSeconds - 3600));
            foreach (var statement in new[]
            {
                $"SELECT count(*) FROM (SELECT 1 FROM access_log_entries WHERE workspace_id = $1 AND \"timestamp\" >= $2 AND \"timestamp\" < $3 {filter} LIMIT 10001) m",
                $"SELECT * FROM access_log_entries WHERE workspace_id = $1 AND \"timestamp\" >= $2 AND \"timestamp\" < $3 {filter} ORDER BY \"timestamp\" DESC, id DESC LIMIT {limit + 1}",
            })
            {
                await using var explain = dataSource.CreateCommand("EXPLAIN (ANALYZE, BUFFERS) " + statement);
                AddParameters(explain, workspaceId, from, from.AddHours(1), values);
                await using var reader = await explain.ExecuteReaderAsync();
                Console.WriteLine($"  -- {name}");
                while (await reader.ReadAsync())
                {
                    Console.WriteLine("     " + reader.GetString(0));
                }
            }
        }
        var sorted = timings.Order().ToArray();
        results.Add(new QueryResult(name, limit, sorted.Length, Percentile(sorted, 0.5), Percentile(sorted, 0.95), Percentile(sorted, 0.99), Percentile(sorted, 1.0)));
        Console.WriteLine($"  {name}: p50 {Percentile(sorted, 0.5)} ms, p99 {Percentile(sorted, 0.99)} ms");
    }
    return results;
}

static void AddParameters(NpgsqlCommand command, Guid workspaceId, DateTimeOffset from, DateTimeOffset to, object[] values)
{
    command.Parameters.Add(new NpgsqlParameter { Value = workspaceId });
    command.Parameters.Add(new NpgsqlParameter { Value = from });
    command.Parameters.Add(new NpgsqlParameter { Value = to });
    foreach (var value in values)
    {
        command.Parameters.Add(new NpgsqlParameter { Value = value });
    }
}

static double Percentile(double[] sorted, double p) =>
    sorted.Length == 0 ? 0 : Math.Round(sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)], 1);

static async Task<T> ScalarAsync<T>(NpgsqlDataSource dataSource, string sql)
{
    await using var command = dataSource.CreateCommand(sql);
    command.CommandTimeout = 0;
    return (T)(await command.ExecuteScalarAsync())!;
}

static async Task<Guid> SeedWorkspaceAsync(DatabaseFixture database)
{
    await using var db = database.CreateDbContext();
    var organization = new Organization { Name = "Bench", Slug = "bench" };
    var workspace = new Workspace { OrganizationId = organization.Id, Name = "Bench", Slug = "bench" };
    db.AddRange(organization, workspace);
    await db.SaveChangesAsync();
    return workspace.Id;
}

static async Task<(Guid, string)> SeedAgentAsync(DatabaseFixture database, Guid workspaceId, int index)
{
    await using var db = database.CreateDbContext();
    var agent = new Agent { WorkspaceId = workspaceId, Name = $"bench-{index}", EnrolledAt = DateTimeOffset.UtcNow };
    var credential = Secrets.NewSecret("nxmesh_cred_");
    db.Add(agent);
    db.Add(new AgentCredential { AgentId = agent.Id, SecretHash = Secrets.Hash(credential), CreatedAt = DateTimeOffset.UtcNow });
    await db.SaveChangesAsync();
    return (agent.Id, credential);
}

static async Task WriteResultsAsync(BenchOptions options, IngestResult ingest, long stored, List<QueryResult> queries)
{
    Directory.CreateDirectory(options.Output);
    // The machine is shared: the load average says how much else ran during the measurement.
    var load = File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";
    var machine = $"{Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}, load average at the end {load}";
    var json = JsonSerializer.Serialize(new { measured_at = DateTimeOffset.UtcNow, machine, ingest, stored_rows_after_ingest = stored, queries },
        new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower });
    await File.WriteAllTextAsync(Path.Combine(options.Output, options.Name + ".json"), json);
    var md = new StringBuilder();
    md.AppendLine("# Telemetry ingest benchmark").AppendLine();
    md.AppendLine(CultureInfo.InvariantCulture, $"Measured {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC on {machine}, Postgres 15 (throwaway cluster, default settings), AgentHub in-process on Kestrel h2c, Release build.").AppendLine();
    md.AppendLine("## Ingest (gRPC `Stream` → AgentHub → binary COPY → Postgres)").AppendLine();
    md.AppendLine(CultureInfo.InvariantCulture, $"{ingest.Agents} agent streams, `LogBatch` of {ingest.BatchSize} access-log lines ({(options.MapForm ? "`LogEntry` maps, the older form" : "typed `AccessLogRecord`s")}), {ingest.WindowPerStream} unacknowledged batches per stream, measured for {ingest.Seconds} s after warm-up.").AppendLine();
    md.AppendLine("| rows/s | ack lag p50 | ack lag p99 | ack lag max | rows acked | stored | failed acks |").AppendLine("|---|---|---|---|---|---|---|");
    md.AppendLine(CultureInfo.InvariantCulture, $"| {ingest.RowsPerSecond:N0} | {ingest.LagP50Ms} ms | {ingest.LagP99Ms} ms | {ingest.LagMaxMs} ms | {ingest.AckedRows:N0} | {stored:N0} | {ingest.FailedAcks} |").AppendLine();
    md.AppendLine("Lag = batch written to the stream → its Ack received (the Ack follows the commit).").AppendLine();
    md.AppendLine(CultureInfo.InvariantCulture, $"CPU used while measuring: {ingest.BenchCpuSeconds} s by the benchmark process (AgentHub and the agent clients together) and {ingest.PostgresCpuSeconds} s by Postgres = **{ingest.RowsPerCpuSecond:N0} rows per CPU-second**, all costs included (client serialization too). The machine is shared with other work (see the load average): rows/s above is what this process got of it; rows per CPU-second × the cores is what the same code would do alone.").AppendLine();
    if (queries.Count == 0)
    {
        await File.WriteAllTextAsync(Path.Combine(options.Output, options.Name + ".md"), md.ToString());
        Console.WriteLine(md.ToString());
        return;
    }
    md.AppendLine(CultureInfo.InvariantCulture, $"## Access-log queries over {options.QueryRows:N0} rows ({options.QueryHours} h of one workspace), one-hour windows").AppendLine();
    md.AppendLine("Each sample runs the endpoint's statements for a random one-hour window: `meta.total` capped at 10 000, then (when it is not 0) the page, newest first.").AppendLine();
    md.AppendLine("| query | limit | samples | p50 | p95 | p99 | max |").AppendLine("|---|---|---|---|---|---|---|");
    foreach (var q in queries)
    {
        md.AppendLine(CultureInfo.InvariantCulture, $"| {q.Name} | {q.Limit} | {q.Samples} | {q.P50Ms} ms | {q.P95Ms} ms | {q.P99Ms} ms | {q.MaxMs} ms |");
    }
    await File.WriteAllTextAsync(Path.Combine(options.Output, options.Name + ".md"), md.ToString());
    Console.WriteLine(md.ToString());
}

internal sealed record IngestResult(int Agents, int BatchSize, int WindowPerStream, double Seconds, long RowsMeasured, double RowsPerSecond,
    double LagP50Ms, double LagP99Ms, double LagMaxMs, long AckedRows, long AckedBatches, long FailedAcks,
    double BenchCpuSeconds, double PostgresCpuSeconds, double RowsPerCpuSecond);

internal sealed record QueryResult(string Name, int Limit, int Samples, double P50Ms, double P95Ms, double P99Ms, double MaxMs);

internal sealed record BenchOptions(int Agents, int BatchSize, int Window, int Seconds, int WarmupSeconds, long QueryRows, int QueryHours, int QueryIterations, string Output, string Name, bool MapForm, bool Explain, bool WithoutFilterIndexes)
{
    public static BenchOptions Parse(string[] args)
    {
        string Get(string name, string fallback)
        {
            var i = Array.IndexOf(args, "--" + name);
            return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
        }
        return new BenchOptions(int.Parse(Get("agents", "8"), CultureInfo.InvariantCulture), int.Parse(Get("batch", "500"), CultureInfo.InvariantCulture),
            int.Parse(Get("window", "8"), CultureInfo.InvariantCulture), int.Parse(Get("seconds", "30"), CultureInfo.InvariantCulture),
            int.Parse(Get("warmup", "5"), CultureInfo.InvariantCulture), long.Parse(Get("rows", "10000000"), CultureInfo.InvariantCulture),
            int.Parse(Get("hours", "24"), CultureInfo.InvariantCulture), int.Parse(Get("iterations", "100"), CultureInfo.InvariantCulture),
            Get("out", Path.Combine(FindRepositoryRoot(), "bench", "results")), Get("name", "ingest-bench"),
            Get("format", "typed") switch
            {
                "typed" => false,
                "map" => true,
                var other => throw new ArgumentException($"--format {other}: typed or map"),
            }, args.Contains("--explain"), args.Contains("--without-filter-indexes"));
    }

    private static string FindRepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "NxMesh.sln")))
        {
            directory = directory.Parent;
        }
        return directory?.FullName ?? Directory.GetCurrentDirectory();
    }
}

/// <summary>The AgentHub on real Kestrel (h2c, random loopback port) against the benchmark's Postgres and Redis.</summary>
internal sealed class BenchHub : WebApplicationFactory<agenthub::Program>
{
    private readonly Dictionary<string, string?> _settings;

    public BenchHub(DatabaseFixture database, BenchOptions options)
    {
        GrpcPort = FreePort();
        PostgresPort = new NpgsqlConnectionStringBuilder(database.ConnectionString).Port;
        _settings = new()
        {
            ["ConnectionStrings:nxmesh"] = database.ConnectionString,
            ["ConnectionStrings:redis"] = database.RedisConnectionString,
            ["DataProtection:KeyEncryptionKey"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)),
            ["Kestrel:Endpoints:grpc:Url"] = $"http://127.0.0.1:{GrpcPort}",
            ["Kestrel:Endpoints:http:Url"] = $"http://127.0.0.1:{FreePort()}",
            ["AgentHub:SendQueueCapacity"] = (options.Window * 4).ToString(CultureInfo.InvariantCulture),
            ["Telemetry:MaxInFlightPerStream"] = options.Window.ToString(CultureInfo.InvariantCulture),
            ["Logging:LogLevel:Default"] = "Warning",
        };
        UseKestrel();
        StartServer();
    }

    public int GrpcPort { get; }
    public int PostgresPort { get; }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }
        builder.UseEnvironment("Testing");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
