namespace NxMesh.Data;

/// <summary>Connection-string names shared by the AppHost model and every service.</summary>
public static class ConnectionNames
{
    public const string Database = "nxmesh";
    public const string Redis = "redis";
}
