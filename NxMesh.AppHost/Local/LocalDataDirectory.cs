using System.Globalization;
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
    private string? _postgresRoot;

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

    /// <summary>
    /// Where Postgres keeps its cluster and socket: inside <see cref="Root"/> when the 'postgres' user can traverse to
    /// it, else (the repository lives under a private folder such as /root or a 0700 temp folder) a folder under
    /// /var/lib/nxmesh named after the root's path, recorded in <c>postgres-location</c> so a reset removes it too.
    /// </summary>
    public string PostgresRoot => _postgresRoot ??= ResolvePostgresRoot();
    public string PostgresData => Path.Combine(PostgresRoot, "pgdata");
    public string PostgresSocketDirectory => Path.Combine(PostgresRoot, "pgsocket");
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

    private string ResolvePostgresRoot()
    {
        if (!FleetSettings.RunningAsRoot || OthersCanTraverse(Root))
        {
            return Root;
        }
        var name = Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(Root)))[..16];
        var external = Path.Combine("/var/lib/nxmesh", name);
        Directory.CreateDirectory(external);
        File.WriteAllText(Path.Combine(Root, "postgres-location"), external + "\n");
        return external;
    }

    /// <summary>Whether a user other than the owner can reach the folder: every ancestor grants others execute.</summary>
    private static bool OthersCanTraverse(string path)
    {
        for (var directory = new DirectoryInfo(path); directory is not null; directory = directory.Parent)
        {
            if ((directory.UnixFileMode & UnixFileMode.OtherExecute) == 0)
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>
    /// A loopback port that is free now, picked below the kernel's ephemeral range: a port the kernel hands out for
    /// port 0 is also handed to outgoing connections (Npgsql, Redis, agents), which can take it between this pick and
    /// the server's bind ("address already in use"); ports below the range are never auto-assigned. A port is handed
    /// out once per process: a caller may bind it much later (a test server started lazily), and a second caller
    /// probing it meanwhile would find it free.
    /// </summary>
    public static int FreeTcpPort()
    {
        var (low, _) = EphemeralPortRange();
        const int First = 10000;
        if (low - First >= 1000)
        {
            for (var attempt = 0; attempt < 64; attempt++)
            {
                var port = Random.Shared.Next(First, low);
                lock (HandedOut)
                {
                    if (!HandedOut.Add(port))
                    {
                        continue;
                    }
                }
                try
                {
                    using var probe = new TcpListener(IPAddress.Loopback, port);
                    probe.Start();
                    return port;
                }
                catch (SocketException)
                {
                    // Taken: try another.
                }
            }
        }
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static readonly HashSet<int> HandedOut = [];

    private static (int Low, int High) EphemeralPortRange()
    {
        try
        {
            var parts = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range")
                .Split((char[])['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
            return (int.Parse(parts[0], CultureInfo.InvariantCulture), int.Parse(parts[1], CultureInfo.InvariantCulture));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return (32768, 60999);
        }
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
