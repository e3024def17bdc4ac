namespace NxMesh.AppHost;

/// <summary>Resource names, spelled once for the AppHost model and the tests.</summary>
public static class ResourceNames
{
    public const string Postgres = "postgres";
    public const string Database = "nxmesh";
    public const string Redis = "redis";
    /// <summary>Local mode: the redis-server process behind the "redis" connection string.</summary>
    public const string RedisServer = "redis-server";
    public const string Migrator = "migrator";
    public const string Api = "api";
    public const string AgentHub = "agenthub";
    public const string Worker = "worker";

    /// <summary>AgentHub instance i (1-based): the first is "agenthub", the others "agenthub-2", "agenthub-3", ….</summary>
    public static string AgentHubInstance(int index) => index == 1 ? AgentHub : $"{AgentHub}-{index}";

    /// <summary>Agent replica i (1-based).</summary>
    public static string Agent(int index) => $"agent-{index}";
}
