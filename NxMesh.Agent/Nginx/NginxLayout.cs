using System.Globalization;

namespace NxMesh.Agent.Nginx;

/// <summary>
/// The agent's nginx layout. The config directory (conf/ by default) is a symlink to one release under
/// conf.releases/; swapping a release is one rename(2) of that symlink, so nginx never sees half a config.
/// </summary>
internal sealed class NginxLayout(AgentOptions options)
{
    public string Prefix { get; } = options.ResolvedNginxPrefix;
    public string ConfigPath { get; } = options.ResolvedConfigPath;
    public string PidFile { get; } = options.ResolvedPidFile;
    public string ConfigDirectory => Path.GetDirectoryName(ConfigPath)!;
    public string ConfigFileName => Path.GetFileName(ConfigPath);
    public string ReleasesDirectory => ConfigDirectory + ".releases";
    public string ErrorLog => Path.Combine(Prefix, "logs", "error.log");

    /// <summary>The prefix path as nginx's -p wants it (trailing slash).</summary>
    public string PrefixArgument => Prefix.EndsWith('/') ? Prefix : Prefix + "/";

    public void EnsureLayout()
    {
        foreach (var directory in new[] { "logs", "temp", "html" })
        {
            Directory.CreateDirectory(Path.Combine(Prefix, directory));
        }
        Directory.CreateDirectory(ReleasesDirectory);
    }

    /// <summary>The pid in the pid file when that process is still alive.</summary>
    public int? ReadLivePid()
    {
        try
        {
            var text = File.ReadAllText(PidFile).Trim();
            return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && Signals.IsAlive(pid) ? pid : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
