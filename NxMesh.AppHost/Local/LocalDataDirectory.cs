using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace NxMesh.AppHost.Local;

/// <summary>
/// The local-mode state folder: pgdata/, secrets (Postgres password, key-encryption key), and one state folder per
/// agent replica with its enrollment token. Replica state lives here so resetting the database resets it too.
/// </summary>
public sealed class LocalDataDirectory
{
    public LocalDataDirectory(string root)
    {
        Root = Path.GetFullPath(root);
        Directory.CreateDirectory(Root);
        if (FleetSettings.RunningAsRoot)
        {
            // Postgres runs as 'postgres' and must traverse to its data folder.
            File.SetUnixFileMode(Root, File.GetUnixFileMode(Root) | UnixFileMode.OtherExecute | UnixFileMode.GroupExecute);
        }
    }

    public string Root { get; }
    public string PostgresData => Path.Combine(Root, "pgdata");
    public string PostgresSocketDirectory => Path.Combine(Root, "pgsocket");
    public string RedisDirectory => Path.Combine(Root, "redis");

    public string AgentState(int index) => Path.Combine(Root, "agents", ResourceNames.Agent(index));

    /// <summary>A secret generated on first use and kept (0600) for later runs.</summary>
    public string Secret(string name, Func<string> generate)
    {
        var path = Path.Combine(Root, "secrets", name);
        if (File.Exists(path))
        {
            return File.ReadAllText(path).Trim();
        }
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var value = generate();
        File.WriteAllText(path, value);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return value;
    }

    public static string RandomBase64(int bytes) => Convert.ToBase64String(RandomNumberGenerator.GetBytes(bytes));

    public static string RandomToken(string prefix) =>
        prefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static int FreeTcpPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Walks up from the AppHost binary to the repository root (where NxMesh.sln is).</summary>
    public static string DefaultRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "NxMesh.sln")))
            {
                return Path.Combine(directory.FullName, ".nxmesh", "local");
            }
        }
        return Path.Combine(Path.GetTempPath(), "nxmesh-local");
    }
}
