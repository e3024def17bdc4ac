using System.Text;

namespace NxMesh.Nginx;

/// <summary>
/// Every string that reaches nginx config goes through here: emitted as one double-quoted argument with
/// <c>\</c> and <c>"</c> escaped, so <c>;</c>, braces and quotes stay data and no directive can be added.
/// CR, LF and NUL are refused everywhere.
/// </summary>
public static class NginxQuoting
{
    public static bool HasForbiddenCharacters(string value) =>
        value.AsSpan().IndexOfAny('\r', '\n', '\0') >= 0;

    /// <summary>One quoted nginx argument.</summary>
    /// <exception cref="ArgumentException">The value holds CR, LF or NUL.</exception>
    public static string Quote(string value)
    {
        if (HasForbiddenCharacters(value))
        {
            throw new ArgumentException("CR, LF and NUL cannot appear in nginx configuration.", nameof(value));
        }
        var builder = new StringBuilder(value.Length + 2);
        builder.Append('"');
        foreach (var c in value)
        {
            if (c is '\\' or '"')
            {
                builder.Append('\\');
            }
            builder.Append(c);
        }
        builder.Append('"');
        return builder.ToString();
    }
}
