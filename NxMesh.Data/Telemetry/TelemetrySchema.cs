namespace NxMesh.Data.Telemetry;

/// <summary>
/// The telemetry tables, created with raw SQL by the TelemetryStorage migration because EF cannot express declarative
/// partitioning. They are not in the EF model: AgentHub writes them with binary COPY, the Api and the Worker read
/// and prune them with SQL.
/// <list type="bullet">
/// <item><c>access_log_entries</c>, <c>metric_samples</c>: range-partitioned by <c>timestamp</c>, one partition per UTC
/// day (<c>&lt;table&gt;_pYYYYMMDD</c>), plus a DEFAULT partition that takes any row no day partition covers, so no
/// row is ever refused (and retried forever) for its timestamp.</item>
/// <item><c>telemetry_rollups</c>: one row per agent and UTC minute (request count, status classes, bytes in/out,
/// response time sum, last active-connections gauge), upserted in the same transaction as the rows it sums.</item>
/// <item><c>ingested_batches</c>: (agent_id, batch_id) of every stored batch; the idempotency key of ingest.</item>
/// </list>
/// </summary>
public static class TelemetrySchema
{
    public const string AccessLogs = "access_log_entries";
    public const string MetricSamples = "metric_samples";
    public const string Rollups = "telemetry_rollups";
    public const string IngestedBatches = "ingested_batches";

    /// <summary>The partitioned tables, each with one partition per UTC day and a DEFAULT partition.</summary>
    public static readonly IReadOnlyList<string> PartitionedTables = [AccessLogs, MetricSamples];

    internal const string Create = """
        CREATE TABLE access_log_entries (
            id uuid NOT NULL,
            agent_id uuid NOT NULL,
            workspace_id uuid NOT NULL,
            virtual_host_id uuid NULL,
            "timestamp" timestamp with time zone NOT NULL,
            remote_addr text NULL,
            method text NULL,
            uri text NULL,
            protocol text NULL,
            host text NULL,
            status integer NOT NULL,
            body_bytes_sent bigint NOT NULL,
            request_length bigint NOT NULL,
            bytes_sent bigint NOT NULL,
            response_time_ms double precision NOT NULL,
            upstream_response_time_ms double precision NULL,
            user_agent text NULL,
            referer text NULL,
            request_id text NULL,
            batch_id uuid NOT NULL
        ) PARTITION BY RANGE ("timestamp");
        CREATE TABLE access_log_entries_default PARTITION OF access_log_entries DEFAULT;
        -- Serves every workspace query (time window, newest first, keyset cursor on (timestamp, id)).
        CREATE INDEX ix_access_log_entries_workspace_time ON access_log_entries (workspace_id, "timestamp" DESC, id DESC);

        CREATE TABLE metric_samples (
            agent_id uuid NOT NULL,
            workspace_id uuid NOT NULL,
            name character varying(128) NOT NULL,
            type integer NOT NULL,
            value double precision NOT NULL,
            labels jsonb NOT NULL,
            "timestamp" timestamp with time zone NOT NULL,
            batch_id uuid NOT NULL
        ) PARTITION BY RANGE ("timestamp");
        CREATE TABLE metric_samples_default PARTITION OF metric_samples DEFAULT;
        CREATE INDEX ix_metric_samples_agent_name_time ON metric_samples (agent_id, name, "timestamp");
        CREATE INDEX ix_metric_samples_workspace_name_time ON metric_samples (workspace_id, name, "timestamp");

        CREATE TABLE telemetry_rollups (
            agent_id uuid NOT NULL,
            minute timestamp with time zone NOT NULL,
            workspace_id uuid NOT NULL,
            requests bigint NOT NULL DEFAULT 0,
            status_1xx bigint NOT NULL DEFAULT 0,
            status_2xx bigint NOT NULL DEFAULT 0,
            status_3xx bigint NOT NULL DEFAULT 0,
            status_4xx bigint NOT NULL DEFAULT 0,
            status_5xx bigint NOT NULL DEFAULT 0,
            bytes_in bigint NOT NULL DEFAULT 0,
            bytes_out bigint NOT NULL DEFAULT 0,
            response_time_ms_sum double precision NOT NULL DEFAULT 0,
            active_connections double precision NULL,
            active_connections_at timestamp with time zone NULL,
            CONSTRAINT pk_telemetry_rollups PRIMARY KEY (agent_id, minute)
        );
        CREATE INDEX ix_telemetry_rollups_workspace_minute ON telemetry_rollups (workspace_id, minute);

        CREATE TABLE ingested_batches (
            agent_id uuid NOT NULL,
            batch_id uuid NOT NULL,
            kind smallint NOT NULL,
            row_count integer NOT NULL,
            ingested_at timestamp with time zone NOT NULL DEFAULT now(),
            CONSTRAINT pk_ingested_batches PRIMARY KEY (agent_id, batch_id)
        );
        CREATE INDEX ix_ingested_batches_ingested_at ON ingested_batches (ingested_at);
        """;

    /// <summary>
    /// The access-log filters' indexes (migration TelemetryQueryIndexes). Created on the partitioned parent, so every
    /// day partition and the DEFAULT partition has them, and partitions created later get them at ATTACH. Each ends in
    /// <c>timestamp</c>, so the window bounds the scan and <c>meta.total</c> is an index-only count.
    /// The host index carries <c>method</c> (host + method is the common pair). <c>uri</c> uses <c>text_pattern_ops</c>: the Api filters with <c>LIKE 'prefix%'</c>, which such an index serves.
    /// </summary>
    internal const string QueryIndexes = """
        CREATE INDEX ix_access_log_entries_workspace_status_time ON access_log_entries (workspace_id, status, "timestamp" DESC);
        CREATE INDEX ix_access_log_entries_workspace_host_time ON access_log_entries (workspace_id, host, "timestamp" DESC) INCLUDE (method);
        CREATE INDEX ix_access_log_entries_agent_time ON access_log_entries (agent_id, "timestamp" DESC);
        CREATE INDEX ix_access_log_entries_workspace_uri_time ON access_log_entries (workspace_id, uri text_pattern_ops, "timestamp");
        """;

    internal const string DropQueryIndexes = """
        DROP INDEX IF EXISTS ix_access_log_entries_workspace_status_time;
        DROP INDEX IF EXISTS ix_access_log_entries_workspace_host_time;
        DROP INDEX IF EXISTS ix_access_log_entries_agent_time;
        DROP INDEX IF EXISTS ix_access_log_entries_workspace_uri_time;
        """;

    internal const string Drop = """
        DROP TABLE IF EXISTS ingested_batches;
        DROP TABLE IF EXISTS telemetry_rollups;
        DROP TABLE IF EXISTS metric_samples;
        DROP TABLE IF EXISTS access_log_entries;
        """;
}
