namespace NxMesh.AgentHub.Telemetry;

/// <summary>Telemetry ingest (section "Telemetry").</summary>
public sealed class TelemetryOptions
{
    public const string Section = "Telemetry";

    /// <summary>Batches waiting for the writer, across all agents of this instance; a full queue slows the readers.</summary>
    public int QueueCapacity { get; set; } = 1024;
    /// <summary>The writer coalesces waiting batches of any agents into one transaction up to about this many rows.</summary>
    public int MaxRowsPerTransaction { get; set; } = 20000;
    /// <summary>Batches of one stream written but not yet acknowledged; 0 = a quarter of AgentHub:SendQueueCapacity.</summary>
    public int MaxInFlightPerStream { get; set; }
    /// <summary>Parallel writers (each its own transaction and connection).</summary>
    public int Writers { get; set; } = 2;
    /// <summary>Day partitions are created from yesterday to this many days ahead, at start and every hour.</summary>
    public int PartitionDaysAhead { get; set; } = 2;
    public double PartitionCheckMinutes { get; set; } = 60;
}
