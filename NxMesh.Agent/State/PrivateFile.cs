using System.Text.Json;

namespace NxMesh.Agent.State;

/// <summary>State-folder files that hold secrets (credentials, private keys): owner-only and replaced atomically.</summary>
internal static class PrivateFile
{
    /// <summary>
    /// Writes <paramref name="value"/> as JSON to a 0600 temporary file, flushes it to disk and renames it over
    /// <paramref name="path"/>, so a crash leaves either the old file or the new one, never a torn or readable one.
    /// </summary>
    public static void WriteJson<T>(string path, T value, JsonSerializerOptions? options = null)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temporary = path + ".tmp";
        File.Delete(temporary);
        using (var stream = new FileStream(temporary, new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        }))
        {
            JsonSerializer.Serialize(stream, value, options);
            stream.Flush(flushToDisk: true);
        }
        File.Move(temporary, path, overwrite: true);
    }
}
