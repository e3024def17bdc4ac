using NxMesh.Agent.Nginx;
using NxMesh.Nginx.Rendering;

namespace NxMesh.Agent.Apply;

/// <summary>One complete config directory under conf.releases/.</summary>
public sealed record Release(string Name, string Directory, string ConfigPath);

/// <summary>
/// Rendered configs as release directories beside the config directory, which is a symlink to the active one:
/// staging writes a new release (keys and certificates 0600), activation is one atomic rename of the symlink,
/// and the previous release stays on disk for rollback.
/// </summary>
internal sealed class ReleaseStore(NginxLayout layout)
{
    private const string ConfPrefix = "conf/";

    /// <summary>The name of the active release, or null while the config directory is not a release symlink.</summary>
    public string? ActiveRelease
    {
        get
        {
            var info = new DirectoryInfo(layout.ConfigDirectory);
            return info.LinkTarget is { } target ? Path.GetFileName(target.TrimEnd('/')) : null;
        }
    }

    public Release Stage(RenderedConfig config)
    {
        var name = $"{DateTime.UtcNow:yyyyMMdd'T'HHmmssfff}-{Guid.NewGuid().ToString("N")[..6]}";
        var directory = Path.Combine(layout.ReleasesDirectory, name);
        Directory.CreateDirectory(directory);
        try
        {
            Write(Path.Combine(directory, layout.ConfigFileName), config.MainConfig, secret: false);
            foreach (var (path, file) in config.Files)
            {
                Write(Resolve(directory, path), file.Content, file.Secret);
            }
        }
        catch
        {
            Discard(name);
            throw;
        }
        return new Release(name, directory, Path.Combine(directory, layout.ConfigFileName));
    }

    /// <summary>Points the config directory at the release: one rename(2) of a fresh symlink over the old one.</summary>
    public void Activate(string name)
    {
        var releasesName = Path.GetFileName(layout.ReleasesDirectory);
        var temporary = layout.ConfigDirectory + ".next";
        if (File.Exists(temporary) || Directory.Exists(temporary) || new FileInfo(temporary).LinkTarget is not null)
        {
            File.Delete(temporary);
        }
        File.CreateSymbolicLink(temporary, Path.Combine(releasesName, name));
        var existing = new DirectoryInfo(layout.ConfigDirectory);
        if (existing.Exists && existing.LinkTarget is null)
        {
            // First start on a prefix with a plain config directory: keep it as a release, then swap as usual.
            Directory.Move(layout.ConfigDirectory, Path.Combine(layout.ReleasesDirectory, "original-" + DateTime.UtcNow.ToString("yyyyMMddHHmmss", System.Globalization.CultureInfo.InvariantCulture)));
        }
        Signals.Rename(temporary, layout.ConfigDirectory);
    }

    public void Discard(string name)
    {
        var directory = Path.Combine(layout.ReleasesDirectory, name);
        if (name.Length > 0 && name != ActiveRelease && Directory.Exists(directory))
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>Deletes every release but the active one and <paramref name="keep"/>.</summary>
    public void Prune(params string?[] keep)
    {
        var active = ActiveRelease;
        foreach (var directory in Directory.EnumerateDirectories(layout.ReleasesDirectory))
        {
            var name = Path.GetFileName(directory);
            if (name != active && !keep.Contains(name))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }

    /// <summary>A rendered path ("conf/certs/a.key") inside the release; anything outside conf/ is refused.</summary>
    private static string Resolve(string releaseDirectory, string path)
    {
        if (!path.StartsWith(ConfPrefix, StringComparison.Ordinal) || path.Contains('\\') || path.Split('/').Any(s => s is ".." or "." or ""))
        {
            throw new ConfigRenderingException($"Rendered file '{path}' is not a plain path under conf/.");
        }
        return Path.Combine(releaseDirectory, path[ConfPrefix.Length..]);
    }

    private static void Write(string path, string content, bool secret)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var mode = secret
            ? UnixFileMode.UserRead | UnixFileMode.UserWrite
            : UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        using var stream = new FileStream(path, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = mode });
        using var writer = new StreamWriter(stream);
        writer.Write(content);
    }
}
