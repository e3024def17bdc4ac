using System.Text;
using System.Text.RegularExpressions;

namespace NxMesh.Agent.Nginx;

/// <summary>Reads what nginx appended to its error log since a remembered offset.</summary>
internal sealed partial class ErrorLogTail(string path)
{
    private long _offset = Length(path);

    /// <summary>Lines appended since the last call (or construction); a truncated/rotated log restarts at 0.</summary>
    public IReadOnlyList<string> ReadNew()
    {
        var length = Length(path);
        if (length < _offset)
        {
            _offset = 0;
        }
        if (length == _offset)
        {
            return [];
        }
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            stream.Seek(_offset, SeekOrigin.Begin);
            var buffer = new byte[length - _offset];
            stream.ReadExactly(buffer);
            // Only whole lines: a line nginx is still writing is read next time.
            var lastNewline = Array.LastIndexOf(buffer, (byte)'\n');
            if (lastNewline < 0)
            {
                return [];
            }
            _offset += lastNewline + 1;
            return Encoding.UTF8.GetString(buffer, 0, lastNewline).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    /// <summary>Lines at emerg, alert or crit: nginx could not do what its config asks.</summary>
    public static IEnumerable<string> Severe(IEnumerable<string> lines) => lines.Where(l => SevereLevel().IsMatch(l));

    /// <summary>Lines at emerg: a reload nginx refused.</summary>
    public static IEnumerable<string> Emergencies(IEnumerable<string> lines) => lines.Where(l => l.Contains("[emerg]", StringComparison.Ordinal));

    /// <summary>"2026/11/27 13:00:22 [emerg] 22032#22032: bind() …" → "[emerg] bind() …".</summary>
    public static string WithoutPrefix(string line)
    {
        var match = Prefix().Match(line);
        return match.Success ? match.Groups[1].Value + " " + line[match.Length..] : line;
    }

    private static long Length(string path)
    {
        try
        {
            return new FileInfo(path) is { Exists: true } info ? info.Length : 0;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
    }

    [GeneratedRegex(@"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d (\[\w+\]) \d+#\d+: (\*\d+ )?")]
    private static partial Regex Prefix();

    [GeneratedRegex(@"\[(emerg|alert|crit)\]")]
    private static partial Regex SevereLevel();
}
