using System.Globalization;
using NxMesh.Nginx;

namespace NxMesh.Agent.Nginx;

/// <summary>The agent's private nginx prefix: conf/, logs/, temp/.</summary>
internal sealed class NginxPrefix(string root)
{
    public string Root { get; } = root;
    public string ConfigDirectory => Path.Combine(Root, "conf");
    public string MainConfig => Path.Combine(ConfigDirectory, "nginx.conf");
    public string PidFile => Path.Combine(Root, "logs", "nginx.pid");
    public string ErrorLog => Path.Combine(Root, "logs", "error.log");

    public void EnsureLayout()
    {
        foreach (var directory in new[] { "conf", "logs", "temp", "html" })
        {
            Directory.CreateDirectory(Path.Combine(Root, directory));
        }
    }

    /// <summary>Writes the base config atomically (rename over the old file).</summary>
    public void WriteBaseConfig(NginxHostSettings settings)
    {
        var temporary = MainConfig + ".tmp";
        File.WriteAllText(temporary, BaseConfigRenderer.Render(settings));
        File.Move(temporary, MainConfig, overwrite: true);
    }

    /// <summary>The pid in logs/nginx.pid when that process is still alive.</summary>
    public int? ReadLivePid()
    {
        try
        {
            var text = File.ReadAllText(PidFile).Trim();
            return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && Signals.IsAlive(pid) ? pid : null;
        }
        catch (IOException)
        {
            return null;
        }
    }
}
