using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace NxMesh.Nginx.Validation;

/// <summary>
/// Validation of every single value that reaches nginx config. Each function takes the value and its JSON field
/// path and returns the problems (empty = the value may be rendered). They never throw on hostile input, so the
/// Api can call them field by field and build 422 details; <see cref="ConfigUpdateValidator"/> runs them all.
/// </summary>
public static partial class NginxValidation
{
    public const int MaxServerNameLength = 2048;
    public const int MaxServerNames = 32;
    public const int MaxPathLength = 1024;
    public const int MaxHeaderNameLength = 256;
    public const int MaxHeaderValueLength = 4096;
    public const int MaxUrlLength = 2048;
    public const int MaxRegexLength = 1024;
    public const int MaxIdLength = 64;
    public const int MaxDisplayNameLength = 255;

    private static readonly TimeSpan RegexCompileBudget = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// <c>server_name</c>: one or more names separated by single spaces (as the spec's <c>"example.com www.example.com"</c>).
    /// Each name is a hostname (letters, digits, hyphens; punycode for IDN), a leading wildcard <c>*.example.com</c>,
    /// a trailing wildcard <c>example.*</c>, or an IPv4 address. Regex names, <c>.example.com</c>, <c>_</c>,
    /// <c>$</c>, quotes, <c>;</c> and braces are refused.
    /// </summary>
    public static IReadOnlyList<ValidationIssue> ServerName(string? value, string field = "server_name")
    {
        if (RequiredText(value, field, MaxServerNameLength) is { } problem)
        {
            return [problem];
        }
        var names = value!.Split(' ');
        if (names.Any(n => n.Length == 0))
        {
            return [Invalid(field, "server names are separated by single spaces, with no leading or trailing space")];
        }
        if (names.Length > MaxServerNames)
        {
            return [new(field, ValidationCodes.OutOfRange, $"at most {MaxServerNames} server names")];
        }
        if (names.FirstOrDefault(n => !IsServerName(n)) is { } bad)
        {
            return [Invalid(field, $"'{Shorten(bad)}' is not a hostname, '*.domain' or 'domain.*' wildcard, or IPv4 address")];
        }
        return names.Distinct(StringComparer.OrdinalIgnoreCase).Count() != names.Length
            ? [Invalid(field, "a server name is listed twice")]
            : [];
    }

    /// <summary>The names of a valid <c>server_name</c>, lowercased (nginx compares them case-insensitively).</summary>
    public static IReadOnlyList<string> SplitServerNames(string serverName) =>
        serverName.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(n => n.ToLowerInvariant()).ToArray();

    public static IReadOnlyList<ValidationIssue> ListenPort(long port, string field = "listen_port") =>
        Range(port, 1, 65535, field);

    /// <summary>
    /// A location path: a prefix <c>/…</c>, exact <c>= /…</c>, preferred prefix <c>^~ /…</c>, or a regex
    /// <c>~ re</c> / <c>~* re</c> (one space after the modifier). Prefix paths: printable, no whitespace, no <c>$</c>.
    /// Regexes: non-empty, compile, no unsupported constructs; <c>$</c> is the end anchor there.
    /// </summary>
    public static IReadOnlyList<ValidationIssue> LocationPath(string? value, string field = "path")
    {
        if (RequiredText(value, field, MaxPathLength) is { } problem)
        {
            return [problem];
        }
        var location = ParseLocation(value!);
        if (location is null)
        {
            return [Invalid(field, "expected '/prefix', '= /exact', '^~ /prefix', '~ regex' or '~* regex'")];
        }
        if (location.IsRegex)
        {
            return Regex(location.Pattern, field);
        }
        return PrefixPathProblem(location.Pattern) is { } pathProblem ? [Invalid(field, pathProblem)] : [];
    }

    /// <summary>A parsed location path: <see cref="Modifier"/> is "", "=", "^~", "~" or "~*".</summary>
    public sealed record LocationMatch(string Modifier, string Pattern)
    {
        public bool IsRegex => Modifier is "~" or "~*";
    }

    /// <summary>Splits a location path into modifier and pattern; null when it has neither shape.</summary>
    public static LocationMatch? ParseLocation(string value)
    {
        if (value.StartsWith('/'))
        {
            return new("", value);
        }
        foreach (var modifier in new[] { "~*", "^~", "~", "=" })
        {
            if (value.Length > modifier.Length + 1 && value.StartsWith(modifier + " ", StringComparison.Ordinal))
            {
                var pattern = value[(modifier.Length + 1)..];
                if (modifier is "=" or "^~" && !pattern.StartsWith('/'))
                {
                    return null;
                }
                return pattern.Length == 0 || char.IsWhiteSpace(pattern[0]) ? null : new(modifier, pattern);
            }
        }
        return null;
    }

    /// <summary>An RFC 9110 field name (token); <c>$</c> is refused although it is a tchar, to keep variables out.</summary>
    public static IReadOnlyList<ValidationIssue> HeaderName(string? value, string field = "name")
    {
        if (RequiredText(value, field, MaxHeaderNameLength) is { } problem)
        {
            return [problem];
        }
        return value!.All(c => c != '$' && IsTchar(c)) ? [] : [Invalid(field, "a header name is an RFC 9110 token: letters, digits and !#%&'*+-.^_`|~")];
    }

    /// <summary>
    /// A header value (also used for custom directive values): CR, LF, NUL and other control characters except
    /// TAB refused; every <c>$</c> must reference a known variable or a capture. Everything else is carried by quoting.
    /// </summary>
    public static IReadOnlyList<ValidationIssue> HeaderValue(string? value, string field = "value")
    {
        if (RequiredText(value, field, MaxHeaderValueLength, allowTab: true) is { } problem)
        {
            return [problem];
        }
        return NginxVariables.FindProblem(value!) is { } variableProblem ? [Invalid(field, variableProblem)] : [];
    }

    /// <summary>
    /// <c>proxy_pass</c> URL: <c>http(s)://host[:port][/path]</c>, host a hostname (no underscores, so it can never
    /// name an nginx upstream block), IPv4 or [IPv6]. Known variables may appear in the path only, and only with an
    /// IP-literal host (nginx resolves a host with variables at run time, and no resolver is configured).
    /// </summary>
    public static IReadOnlyList<ValidationIssue> ProxyPass(string? value, string field = "proxy_pass")
    {
        if (RequiredText(value, field, MaxUrlLength) is { } problem)
        {
            return [problem];
        }
        var url = ParseProxyUrl(value!);
        if (url is null)
        {
            return [Invalid(field, "expected http(s)://host[:port][/path] with a hostname, IPv4 or [IPv6] host")];
        }
        if (url.Path.Any(c => c <= ' ' || c == 0x7F))
        {
            return [Invalid(field, "the path cannot contain spaces or control characters")];
        }
        if (NginxVariables.HasVariables(url.Path))
        {
            if (NginxVariables.FindProblem(url.Path) is { } variableProblem)
            {
                return [Invalid(field, variableProblem)];
            }
            if (!IPAddress.TryParse(url.Host.Trim('[', ']'), out _))
            {
                return [new(field, ValidationCodes.NotAllowed, "variables in proxy_pass need an IP address host (no resolver is configured)")];
            }
        }
        return [];
    }

    /// <summary>The parts of a valid <c>proxy_pass</c> URL; <see cref="Path"/> is "" when there is no URI part.</summary>
    public sealed record ProxyUrl(string Scheme, string Host, int? Port, string Path);

    public static ProxyUrl? ParseProxyUrl(string value)
    {
        var match = ProxyUrlPattern().Match(value);
        if (!match.Success)
        {
            return null;
        }
        var host = match.Groups["host"].Value;
        int? port = null;
        if (match.Groups["port"].Success)
        {
            if (!int.TryParse(match.Groups["port"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var p) || p is < 1 or > 65535)
            {
                return null;
            }
            port = p;
        }
        var hostOk = host.StartsWith('[')
            ? IPAddress.TryParse(host[1..^1], out var v6) && v6.AddressFamily == AddressFamily.InterNetworkV6
            : IsHostname(host) || IsIPv4(host);
        return hostOk ? new(match.Groups["scheme"].Value.ToLowerInvariant(), host, port, match.Groups["path"].Value) : null;
    }

    /// <summary>A rewrite rule: pattern (sane regex), replacement (known variables and captures), flag.</summary>
    public static IReadOnlyList<ValidationIssue> RewriteRule(string? pattern, string? replacement, string? flag, string field = "rewrite_rules[0]")
    {
        var issues = new List<ValidationIssue>();
        issues.AddRange(Regex(pattern, field + ".pattern"));
        issues.AddRange(RewriteReplacement(replacement, field + ".replacement"));
        issues.AddRange(RewriteFlag(flag, field + ".flag"));
        return issues;
    }

    public static IReadOnlyList<ValidationIssue> RewriteReplacement(string? value, string field = "replacement")
    {
        if (RequiredText(value, field, MaxUrlLength) is { } problem)
        {
            return [problem];
        }
        if (value!.Any(char.IsWhiteSpace))
        {
            return [Invalid(field, "a rewrite replacement cannot contain whitespace")];
        }
        return NginxVariables.FindProblem(value!) is { } variableProblem ? [Invalid(field, variableProblem)] : [];
    }

    public static readonly IReadOnlySet<string> RewriteFlags = new SortedSet<string>(StringComparer.Ordinal) { "last", "break", "redirect", "permanent" };

    /// <summary>A rewrite flag: last, break, redirect, permanent, or empty (none).</summary>
    public static IReadOnlyList<ValidationIssue> RewriteFlag(string? value, string field = "flag") =>
        string.IsNullOrEmpty(value) || RewriteFlags.Contains(value)
            ? []
            : [Invalid(field, "flag is one of last, break, redirect, permanent, or empty")];

    /// <summary>
    /// A PCRE regex as nginx takes it in locations and rewrites: non-empty, no whitespace or control characters at
    /// the ends, compiles, and uses only constructs PCRE and .NET agree on (no balancing groups, no inline
    /// options other than i, m, s, x). nginx does not expand variables in regexes, so <c>$</c> is the end anchor.
    /// </summary>
    public static IReadOnlyList<ValidationIssue> Regex(string? value, string field = "pattern")
    {
        if (RequiredText(value, field, MaxRegexLength) is { } problem)
        {
            return [problem];
        }
        if (value!.Any(char.IsControl) || char.IsWhiteSpace(value![0]) || char.IsWhiteSpace(value[^1]))
        {
            return [Invalid(field, "a regex cannot contain control characters or start or end with whitespace")];
        }
        if (HasUnsupportedGroup(value))
        {
            return [Invalid(field, "the regex uses a construct nginx's PCRE does not share (balancing groups, inline options other than imsx, or (?P…))")];
        }
        try
        {
            _ = new Regex(value, RegexOptions.None, RegexCompileBudget);
            return [];
        }
        catch (ArgumentException ex)
        {
            return [Invalid(field, "not a valid regex: " + Shorten(ex.Message, 120))];
        }
    }

    /// <summary>An upstream server address: IPv4:port, [IPv6]:port or hostname:port. No <c>$</c>, no unix sockets.</summary>
    public static IReadOnlyList<ValidationIssue> UpstreamServerAddress(string? value, string field = "address")
    {
        if (RequiredText(value, field, 260) is { } problem)
        {
            return [problem];
        }
        return ParseHostPort(value!) is null
            ? [Invalid(field, "expected IPv4:port, [IPv6]:port or hostname:port (port 1-65535)")]
            : [];
    }

    /// <summary>host and port of a valid upstream server address.</summary>
    public static (string Host, int Port)? ParseHostPort(string value)
    {
        var colon = value.LastIndexOf(':');
        if (colon <= 0 || colon == value.Length - 1)
        {
            return null;
        }
        var portText = value[(colon + 1)..];
        if (portText.Length > 5 || !portText.All(char.IsAsciiDigit) || portText[0] == '0')
        {
            return null;
        }
        var port = int.Parse(portText, CultureInfo.InvariantCulture);
        if (port is < 1 or > 65535)
        {
            return null;
        }
        var host = value[..colon];
        if (host.StartsWith('[') && host.EndsWith(']'))
        {
            return host.Length > 2 && IPAddress.TryParse(host[1..^1], out var v6) && v6.AddressFamily == AddressFamily.InterNetworkV6
                ? (host, port)
                : null;
        }
        return IsIPv4(host) || IsHostname(host) ? (host, port) : null;
    }

    public static IReadOnlyList<ValidationIssue> Weight(long weight, string field = "weight") => Range(weight, 1, 1000, field);

    public static IReadOnlyList<ValidationIssue> MaxFails(long maxFails, string field = "max_fails") => Range(maxFails, 0, 1000, field);

    /// <summary>fail_timeout in seconds as the spec carries it (0 = nginx's default of 10 s).</summary>
    public static IReadOnlyList<ValidationIssue> FailTimeoutSeconds(long seconds, string field = "fail_timeout") => Range(seconds, 0, 86400, field);

    /// <summary>An nginx time such as <c>10s</c>, <c>1m30s</c>, <c>500ms</c>, <c>1h</c> or a bare number of seconds.</summary>
    public static IReadOnlyList<ValidationIssue> NginxTime(string? value, string field)
    {
        if (RequiredText(value, field, 32) is { } problem)
        {
            return [problem];
        }
        return NginxTimePattern().IsMatch(value!) ? [] : [Invalid(field, "expected an nginx time such as 10s, 500ms, 1m30s or 2h")];
    }

    /// <summary>An nginx size such as <c>512</c>, <c>16k</c>, <c>1m</c>, <c>1g</c>.</summary>
    public static IReadOnlyList<ValidationIssue> NginxSize(string? value, string field)
    {
        if (RequiredText(value, field, 32) is { } problem)
        {
            return [problem];
        }
        return NginxSizePattern().IsMatch(value!) ? [] : [Invalid(field, "expected an nginx size such as 512, 16k, 1m or 1g")];
    }

    public static IReadOnlyList<ValidationIssue> Keepalive(long connections, string field = "keepalive_connections") => Range(connections, 0, 10000, field);

    /// <summary>
    /// An upstream health check (the agent probes it itself): when enabled, path <c>/…</c> (printable, no spaces),
    /// interval 1–3600 s, timeout 1–interval s, thresholds 1–100 (0 = default: 2 healthy, 3 unhealthy).
    /// </summary>
    public static IReadOnlyList<ValidationIssue> HealthCheck(bool enabled, string? path, long intervalSeconds, long timeoutSeconds,
        long healthyThreshold, long unhealthyThreshold, string field = "health_check")
    {
        if (!enabled)
        {
            return [];
        }
        var issues = new List<ValidationIssue>();
        issues.AddRange(HealthCheckPath(path, field + ".path"));
        issues.AddRange(Range(intervalSeconds, 1, 3600, field + ".interval"));
        issues.AddRange(Range(timeoutSeconds, 1, Math.Clamp(intervalSeconds, 1, 3600), field + ".timeout"));
        issues.AddRange(Range(healthyThreshold, 0, 100, field + ".healthy_threshold"));
        issues.AddRange(Range(unhealthyThreshold, 0, 100, field + ".unhealthy_threshold"));
        return issues;
    }

    public static IReadOnlyList<ValidationIssue> HealthCheckPath(string? value, string field = "path")
    {
        if (RequiredText(value, field, MaxPathLength) is { } problem)
        {
            return [problem];
        }
        return value!.StartsWith('/') && value.All(c => c > ' ' && c < 0x7F)
            ? []
            : [Invalid(field, "a health check path starts with '/' and holds printable ASCII without spaces")];
    }

    /// <summary>
    /// <c>root</c>: an absolute path; no <c>..</c> or <c>.</c> segments, no <c>//</c>, no <c>$</c>, quotes,
    /// backslashes, whitespace or control characters. Confinement to the agent's allowed directories is the renderer's job.
    /// </summary>
    public static IReadOnlyList<ValidationIssue> Root(string? value, string field = "root")
    {
        if (RequiredText(value, field, MaxPathLength) is { } problem)
        {
            return [problem];
        }
        var root = value!;
        if (!root.StartsWith('/') || root.Any(c => c <= ' ' || c == 0x7F || c is '$' or '"' or '\'' or '\\' or ';' or '{' or '}' or '#')
            || root.Contains("//", StringComparison.Ordinal) || root.Split('/').Any(s => s is "." or ".."))
        {
            return [Invalid(field, "root is an absolute path without '..', '//', '$', quotes, whitespace or control characters")];
        }
        return [];
    }

    /// <summary><c>index</c>: file names separated by single spaces, each letters, digits, '.', '_', '-' (not '.' or '..').</summary>
    public static IReadOnlyList<ValidationIssue> Index(string? value, string field = "index")
    {
        if (RequiredText(value, field, 256) is { } problem)
        {
            return [problem];
        }
        return value!.Split(' ').All(IsIndexFileName)
            ? []
            : [Invalid(field, "index lists file names (letters, digits, '.', '_', '-') separated by single spaces")];
    }

    /// <summary>
    /// What a location does: at most one of upstream_id, proxy_pass and root; none is allowed only when the location
    /// answers itself with a <c>return</c> custom directive. index needs root. A regex location cannot proxy_pass
    /// a URL with a URI part (nginx refuses it) unless the URL uses variables.
    /// </summary>
    public static IReadOnlyList<ValidationIssue> LocationTarget(string? path, string? upstreamId, string? proxyPass, string? root, string? index,
        bool hasReturnDirective, string field = "")
    {
        var prefix = field.Length == 0 ? "" : field + ".";
        var targets = new[] { ("upstream_id", upstreamId), ("proxy_pass", proxyPass), ("root", root) }
            .Where(t => !string.IsNullOrEmpty(t.Item2)).Select(t => t.Item1).ToArray();
        var issues = new List<ValidationIssue>();
        if (targets.Length > 1)
        {
            issues.Add(new(prefix + targets[1], ValidationCodes.NotAllowed, $"a location has one of upstream_id, proxy_pass or root, not {string.Join(" and ", targets)}"));
        }
        else if (targets.Length == 0 && !hasReturnDirective)
        {
            issues.Add(new(prefix + "upstream_id", ValidationCodes.Required, "a location needs one of upstream_id, proxy_pass or root (or a 'return' custom directive)"));
        }
        if (!string.IsNullOrEmpty(index) && string.IsNullOrEmpty(root))
        {
            issues.Add(new(prefix + "index", ValidationCodes.NotAllowed, "index needs root"));
        }
        if (!string.IsNullOrEmpty(path) && !string.IsNullOrEmpty(proxyPass) && ParseLocation(path) is { IsRegex: true }
            && ParseProxyUrl(proxyPass) is { Path.Length: > 0 } url && !NginxVariables.HasVariables(url.Path))
        {
            issues.Add(new(prefix + "proxy_pass", ValidationCodes.NotAllowed, "in a regex location proxy_pass cannot have a URI part (nginx refuses it); drop the path"));
        }
        return issues;
    }

    /// <summary>
    /// An id that names files and nginx upstream blocks (UUIDs in practice): 1–64 letters, digits, '-' or '_',
    /// starting with a letter or digit.
    /// </summary>
    public static IReadOnlyList<ValidationIssue> Id(string? value, string field = "id")
    {
        if (string.IsNullOrEmpty(value))
        {
            return [new(field, ValidationCodes.Required, "required")];
        }
        return IdPattern().IsMatch(value) ? [] : [Invalid(field, "an id is 1-64 letters, digits, '-' or '_'")];
    }

    /// <summary>A display name (never rendered into nginx config): required, at most 255 characters, no control characters.</summary>
    public static IReadOnlyList<ValidationIssue> DisplayName(string? value, string field = "name")
    {
        if (RequiredText(value, field, MaxDisplayNameLength) is { } problem)
        {
            return [problem];
        }
        return value!.Any(char.IsControl) ? [Invalid(field, "a name cannot contain control characters")] : [];
    }

    /// <summary>An <c>env</c> variable for nginx workers: POSIX name, not LD_* or NGINX*; value of letters, digits, spaces and <c>_.,:/=+@%-</c>.</summary>
    public static IReadOnlyList<ValidationIssue> EnvVar(string? name, string? value, string field = "env_vars")
    {
        var entry = MapEntryField(field, name ?? "");
        if (string.IsNullOrEmpty(name) || !EnvNamePattern().IsMatch(name))
        {
            return [Invalid(entry, "an environment variable name is letters, digits and '_', not starting with a digit")];
        }
        if (name.StartsWith("LD_", StringComparison.OrdinalIgnoreCase) || name.StartsWith("NGINX", StringComparison.OrdinalIgnoreCase))
        {
            return [new(entry, ValidationCodes.NotAllowed, "LD_* and NGINX* variables are not allowed")];
        }
        if ((value ?? "").Length > MaxHeaderValueLength || !(value ?? "").All(c => char.IsAsciiLetterOrDigit(c) || c is ' ' or '_' or '.' or ',' or ':' or '/' or '=' or '+' or '@' or '%' or '-'))
        {
            // nginx never shows an env value back, so no behaviour could prove a quoted one inert: keep them plain.
            return [Invalid(entry, "the value holds at most 4096 letters, digits, spaces and _ . , : / = + @ % -")];
        }
        return [];
    }

    /// <summary>The JSON path of a map entry: <c>field.key</c> for simple keys, else <c>field["key"]</c>.</summary>
    public static string MapEntryField(string field, string key) =>
        key.Length > 0 && key.Length <= 64 && key.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-')
            ? $"{field}.{key}"
            : $"{field}[{System.Text.Json.JsonSerializer.Serialize(Shorten(key))}]";

    /// <summary>An integer within [min, max].</summary>
    public static IReadOnlyList<ValidationIssue> Range(long value, long min, long max, string field) =>
        value < min || value > max ? [new(field, ValidationCodes.OutOfRange, $"must be between {min} and {max}")] : [];

    internal static ValidationIssue Invalid(string field, string message) => new(field, ValidationCodes.InvalidFormat, message);

    /// <summary>Null when the value is present, within length and free of CR, LF, NUL (and other controls unless TAB is allowed).</summary>
    internal static ValidationIssue? RequiredText(string? value, string field, int maxLength, bool allowTab = false)
    {
        if (string.IsNullOrEmpty(value))
        {
            return new(field, ValidationCodes.Required, "required");
        }
        if (value.Length > maxLength)
        {
            return new(field, ValidationCodes.OutOfRange, $"at most {maxLength} characters");
        }
        if (NginxQuoting.HasForbiddenCharacters(value))
        {
            return Invalid(field, "CR, LF and NUL are not allowed");
        }
        if (value.Any(c => char.IsControl(c) && !(allowTab && c == '\t')))
        {
            return Invalid(field, "control characters are not allowed");
        }
        return null;
    }

    internal static string Shorten(string value, int max = 64) => value.Length <= max ? value : value[..max] + "…";

    internal static bool IsHostname(string host)
    {
        if (host.Length is 0 or > 253 || host.EndsWith('.'))
        {
            return false;
        }
        var labels = host.Split('.');
        return labels.All(IsLabel) && !labels[^1].All(char.IsAsciiDigit);
    }

    internal static bool IsIPv4(string host) =>
        host.Split('.') is { Length: 4 } parts && parts.All(p => p.Length is > 0 and <= 3 && p.All(char.IsAsciiDigit) && int.Parse(p, CultureInfo.InvariantCulture) <= 255
            && (p.Length == 1 || p[0] != '0'));

    private static bool IsServerName(string name)
    {
        if (name.Length > 253)
        {
            return false;
        }
        if (name.StartsWith("*.", StringComparison.Ordinal))
        {
            return IsHostname(name[2..]);
        }
        if (name.EndsWith(".*", StringComparison.Ordinal))
        {
            var head = name[..^2];
            return head.Split('.').All(IsLabel);
        }
        return IsIPv4(name) || IsHostname(name);
    }

    private static bool IsLabel(string label) =>
        label.Length is > 0 and <= 63 && label[0] != '-' && label[^1] != '-' && label.All(c => char.IsAsciiLetterOrDigit(c) || c == '-');

    private static bool IsTchar(char c) =>
        char.IsAsciiLetterOrDigit(c) || c is '!' or '#' or '$' or '%' or '&' or '\'' or '*' or '+' or '-' or '.' or '^' or '_' or '`' or '|' or '~';

    private static bool IsIndexFileName(string name) =>
        name.Length is > 0 and <= 128 && name is not "." and not ".." && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-');

    /// <summary>
    /// Groups PCRE and .NET both read the same way: (?:…) (?=…) (?!…) (?&lt;=…) (?&lt;!…) (?&gt;…) (?&lt;name&gt;…) and
    /// inline options of i, m, s, x. Anything else after "(?" is refused. Escapes and character classes are skipped.
    /// </summary>
    private static bool HasUnsupportedGroup(string regex)
    {
        var inClass = false;
        for (var i = 0; i < regex.Length; i++)
        {
            var c = regex[i];
            if (c == '\\')
            {
                i++;
            }
            else if (inClass)
            {
                inClass = c != ']';
            }
            else if (c == '[')
            {
                inClass = true;
                if (i + 1 < regex.Length && regex[i + 1] == '^')
                {
                    i++;
                }
                if (i + 1 < regex.Length && regex[i + 1] == ']')
                {
                    i++;
                }
            }
            else if (c == '(' && i + 1 < regex.Length && regex[i + 1] == '?')
            {
                var rest = regex.AsSpan(i + 2);
                var ok = rest.Length > 0 && (rest[0] is ':' or '=' or '!' or '>'
                    || rest.StartsWith("<=") || rest.StartsWith("<!")
                    || SupportedGroupHead().IsMatch(rest));
                if (!ok)
                {
                    return true;
                }
            }
        }
        return false;
    }

    private static string? PrefixPathProblem(string path) =>
        path.Any(c => c <= ' ' || c == 0x7F || char.IsControl(c) || char.IsWhiteSpace(c))
            ? "a location path cannot contain whitespace or control characters"
            : path.Contains('$', StringComparison.Ordinal) ? "'$' is not allowed in a location path" : null;

    [GeneratedRegex(@"^(?<scheme>[hH][tT][tT][pP][sS]?)://(?<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(?<port>[0-9]{1,5}))?(?<path>[/$].*)?$")]
    private static partial Regex ProxyUrlPattern();

    [GeneratedRegex(@"^(?:(?:[0-9]{1,9}(?:ms|[smhdwMy]))+|[0-9]{1,9})$")]
    private static partial Regex NginxTimePattern();

    [GeneratedRegex(@"^(?:<[A-Za-z_][A-Za-z0-9_]*>|[imsx]*(?:-[imsx]+)?[:)])")]
    private static partial Regex SupportedGroupHead();

    [GeneratedRegex(@"^[0-9]{1,12}[kKmMgG]?$")]
    private static partial Regex NginxSizePattern();

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")]
    private static partial Regex IdPattern();

    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_]{0,127}$")]
    private static partial Regex EnvNamePattern();
}
