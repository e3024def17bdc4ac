namespace NxMesh.Data.Entities;

public sealed class MetricSample
{
    public long Id { get; set; }
    public Guid AgentId { get; set; }
    public Guid WorkspaceId { get; set; }
    public required string Name { get; set; }
    public int Type { get; set; }
    public double Value { get; set; }
    public Dictionary<string, string> Labels { get; set; } = [];
    public DateTimeOffset Timestamp { get; set; }
    public Guid BatchId { get; set; }
}

public sealed class AccessLogEntry
{
    public Guid Id { get; set; } = Guid.CreateVersion7();
    public Guid AgentId { get; set; }
    public Guid WorkspaceId { get; set; }
    public Guid? VirtualHostId { get; set; }
    public DateTimeOffset Timestamp { get; set; }
    public string? RemoteAddr { get; set; }
    public string? Method { get; set; }
    public string? Uri { get; set; }
    public string? Protocol { get; set; }
    public string? Host { get; set; }
    public int Status { get; set; }
    public long BodyBytesSent { get; set; }
    public long RequestLength { get; set; }
    public long BytesSent { get; set; }
    public double ResponseTimeMs { get; set; }
    public double? UpstreamTimeMs { get; set; }
    public string? UserAgent { get; set; }
    public string? Referer { get; set; }
    public string? RequestId { get; set; }
    public Guid BatchId { get; set; }
}
