using System.Text.RegularExpressions;

namespace NxMesh.Data.Labels;

/// <summary>Kubernetes label syntax: keys are <c>[prefix/]name</c>, values are empty or a name-like string.</summary>
public static partial class KubernetesLabels
{
    public const int MaxNameLength = 63;
    public const int MaxPrefixLength = 253;
    public const int MaxLabels = 64;

    /// <summary>Why <paramref name="key"/> is not a valid label key, or null when it is.</summary>
    public static string? KeyError(string? key)
    {
        if (string.IsNullOrEmpty(key))
        {
            return "A label key must not be empty.";
        }
        var slash = key.IndexOf('/', StringComparison.Ordinal);
        var name = key;
        if (slash >= 0)
        {
            var prefix = key[..slash];
            name = key[(slash + 1)..];
            if (prefix.Length == 0 || prefix.Length > MaxPrefixLength || !DnsSubdomain().IsMatch(prefix))
            {
                return $"The prefix of label key '{key}' must be a DNS subdomain (lowercase letters, digits, '-' and '.', at most {MaxPrefixLength} characters).";
            }
        }
        if (name.Length == 0 || name.Length > MaxNameLength || !Name().IsMatch(name))
        {
            return $"Label key '{key}' must be at most {MaxNameLength} characters, start and end with a letter or digit, and contain only letters, digits, '-', '_' and '.' (optionally after a DNS prefix and '/').";
        }
        return null;
    }

    /// <summary>Why <paramref name="value"/> is not a valid label value, or null when it is.</summary>
    public static string? ValueError(string? value)
    {
        if (value is null)
        {
            return "A label value must be a string (it may be empty).";
        }
        if (value.Length == 0)
        {
            return null;
        }
        return value.Length <= MaxNameLength && Name().IsMatch(value)
            ? null
            : $"Label value '{Truncate(value)}' must be empty or at most {MaxNameLength} characters, start and end with a letter or digit, and contain only letters, digits, '-', '_' and '.'.";
    }

    private static string Truncate(string value) => value.Length <= 70 ? value : value[..70] + "…";

    [GeneratedRegex("^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")]
    private static partial Regex Name();

    [GeneratedRegex("^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")]
    private static partial Regex DnsSubdomain();
}
