using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;

namespace NxMesh.Nginx.Validation;

/// <summary>Where a custom directive is placed: workspace <c>global_settings</c> (http), a virtual host (server) or a location.</summary>
[Flags]
public enum DirectiveContext
{
    Http = 1,
    Server = 2,
    Location = 4,
}

/// <summary>How a custom directive value is split into nginx arguments and checked.</summary>
public enum DirectiveValueKind
{
    /// <summary><c>on</c> or <c>off</c>.</summary>
    Flag,
    /// <summary>An nginx time (<c>30s</c>, <c>1m</c>).</summary>
    Time,
    /// <summary>An nginx size (<c>16k</c>, <c>10m</c>).</summary>
    Size,
    /// <summary>A non-negative integer.</summary>
    Number,
    /// <summary>Whitespace-separated tokens, each one argument; each token checked like a header value.</summary>
    Tokens,
    /// <summary>Tokens from a fixed set.</summary>
    Choice,
    /// <summary>A header name, then the rest of the value as one argument (proxy_set_header).</summary>
    HeaderAndValue,
    /// <summary>A status code, then optionally the rest of the value as one argument (return).</summary>
    CodeAndText,
    /// <summary>Addresses or CIDRs (or <c>all</c>); one directive per token (allow, deny, set_real_ip_from).</summary>
    AddressList,
    /// <summary><c>expires</c>: <c>[modified] time</c> (signed, or <c>@</c> time of day), <c>epoch</c>, <c>max</c> or <c>off</c>.</summary>
    Expires,
}

/// <summary>One allowlisted directive: contexts, value kind, argument count (per directive) and allowed choices.</summary>
public sealed record DirectiveRule(string Name, DirectiveContext Contexts, DirectiveValueKind Kind, int MinArguments = 1, int MaxArguments = 1,
    IReadOnlyList<string>? Choices = null, IReadOnlyList<DirectiveValueKind>? ArgumentKinds = null);

/// <summary>
/// The documented allowlist of <c>custom_directives</c> / <c>global_settings.nginx_directives</c> and the rendering
/// of their values into arguments. Anything not listed is refused — in particular include, load_module, every
/// *_log, lua*, perl*, root/alias, ssl_certificate*, listen, server_name, proxy_pass and the other directives the
/// renderer owns. The table is documented in NxMesh.Nginx/README.md.
/// </summary>
public static partial class CustomDirectives
{
    private const DirectiveContext All = DirectiveContext.Http | DirectiveContext.Server | DirectiveContext.Location;
    private const DirectiveContext HttpServer = DirectiveContext.Http | DirectiveContext.Server;
    private const DirectiveContext ServerLocation = DirectiveContext.Server | DirectiveContext.Location;
    public const int MaxValueLength = 1024;

    private static readonly string[] OnOff = ["on", "off"];

    public static readonly IReadOnlyDictionary<string, DirectiveRule> Allowlist = new[]
    {
        // Client requests, timeouts and buffers.
        new DirectiveRule("client_max_body_size", All, DirectiveValueKind.Size),
        new DirectiveRule("client_body_buffer_size", All, DirectiveValueKind.Size),
        new DirectiveRule("client_body_timeout", All, DirectiveValueKind.Time),
        new DirectiveRule("client_header_timeout", HttpServer, DirectiveValueKind.Time),
        new DirectiveRule("client_header_buffer_size", HttpServer, DirectiveValueKind.Size),
        new DirectiveRule("large_client_header_buffers", HttpServer, DirectiveValueKind.Tokens, 2, 2, ArgumentKinds: [DirectiveValueKind.Number, DirectiveValueKind.Size]),
        new DirectiveRule("keepalive_timeout", All, DirectiveValueKind.Time, 1, 2),
        new DirectiveRule("keepalive_requests", All, DirectiveValueKind.Number),
        new DirectiveRule("send_timeout", All, DirectiveValueKind.Time),
        new DirectiveRule("reset_timedout_connection", All, DirectiveValueKind.Flag),
        new DirectiveRule("sendfile", All, DirectiveValueKind.Flag),
        new DirectiveRule("tcp_nopush", All, DirectiveValueKind.Flag),
        new DirectiveRule("tcp_nodelay", All, DirectiveValueKind.Flag),
        new DirectiveRule("limit_rate", All, DirectiveValueKind.Size),
        new DirectiveRule("limit_rate_after", All, DirectiveValueKind.Size),
        new DirectiveRule("underscores_in_headers", HttpServer, DirectiveValueKind.Flag),
        new DirectiveRule("ignore_invalid_headers", HttpServer, DirectiveValueKind.Flag),
        new DirectiveRule("merge_slashes", HttpServer, DirectiveValueKind.Flag),
        new DirectiveRule("chunked_transfer_encoding", All, DirectiveValueKind.Flag),
        // Responses and caching headers.
        new DirectiveRule("server_tokens", All, DirectiveValueKind.Flag),
        new DirectiveRule("charset", All, DirectiveValueKind.Tokens),
        new DirectiveRule("default_type", All, DirectiveValueKind.Tokens),
        new DirectiveRule("etag", All, DirectiveValueKind.Flag),
        new DirectiveRule("if_modified_since", All, DirectiveValueKind.Choice, Choices: ["off", "exact", "before"]),
        new DirectiveRule("expires", All, DirectiveValueKind.Expires, 1, 2),
        new DirectiveRule("absolute_redirect", All, DirectiveValueKind.Flag),
        new DirectiveRule("port_in_redirect", All, DirectiveValueKind.Flag),
        new DirectiveRule("server_name_in_redirect", All, DirectiveValueKind.Flag),
        new DirectiveRule("log_not_found", All, DirectiveValueKind.Flag),
        new DirectiveRule("return", ServerLocation, DirectiveValueKind.CodeAndText, 1, 2),
        new DirectiveRule("try_files", ServerLocation, DirectiveValueKind.Tokens, 2, 16),
        new DirectiveRule("autoindex", DirectiveContext.Location, DirectiveValueKind.Flag),
        // Compression.
        new DirectiveRule("gzip", All, DirectiveValueKind.Flag),
        new DirectiveRule("gzip_comp_level", All, DirectiveValueKind.Choice, Choices: ["1", "2", "3", "4", "5", "6", "7", "8", "9"]),
        new DirectiveRule("gzip_min_length", All, DirectiveValueKind.Size),
        new DirectiveRule("gzip_types", All, DirectiveValueKind.Tokens, 1, 64),
        new DirectiveRule("gzip_vary", All, DirectiveValueKind.Flag),
        new DirectiveRule("gzip_http_version", All, DirectiveValueKind.Choice, Choices: ["1.0", "1.1"]),
        new DirectiveRule("gzip_buffers", All, DirectiveValueKind.Tokens, 2, 2, ArgumentKinds: [DirectiveValueKind.Number, DirectiveValueKind.Size]),
        new DirectiveRule("gzip_proxied", All, DirectiveValueKind.Choice, 1, 9,
            ["off", "expired", "no-cache", "no-store", "private", "no_last_modified", "no_etag", "auth", "any"]),
        // Proxying (safe knobs only; proxy_pass is the renderer's).
        new DirectiveRule("proxy_connect_timeout", All, DirectiveValueKind.Time),
        new DirectiveRule("proxy_read_timeout", All, DirectiveValueKind.Time),
        new DirectiveRule("proxy_send_timeout", All, DirectiveValueKind.Time),
        new DirectiveRule("proxy_buffering", All, DirectiveValueKind.Flag),
        new DirectiveRule("proxy_request_buffering", All, DirectiveValueKind.Flag),
        new DirectiveRule("proxy_buffer_size", All, DirectiveValueKind.Size),
        new DirectiveRule("proxy_buffers", All, DirectiveValueKind.Tokens, 2, 2, ArgumentKinds: [DirectiveValueKind.Number, DirectiveValueKind.Size]),
        new DirectiveRule("proxy_busy_buffers_size", All, DirectiveValueKind.Size),
        new DirectiveRule("proxy_max_temp_file_size", All, DirectiveValueKind.Size),
        new DirectiveRule("proxy_intercept_errors", All, DirectiveValueKind.Flag),
        new DirectiveRule("proxy_redirect", All, DirectiveValueKind.Tokens, 1, 2),
        new DirectiveRule("proxy_next_upstream", All, DirectiveValueKind.Choice, 1, 12,
            ["error", "timeout", "invalid_header", "http_500", "http_502", "http_503", "http_504", "http_403", "http_404", "http_429", "non_idempotent", "off"]),
        new DirectiveRule("proxy_next_upstream_tries", All, DirectiveValueKind.Number),
        new DirectiveRule("proxy_next_upstream_timeout", All, DirectiveValueKind.Time),
        new DirectiveRule("proxy_ssl_server_name", All, DirectiveValueKind.Flag),
        new DirectiveRule("proxy_hide_header", All, DirectiveValueKind.HeaderAndValue, 1, 1),
        new DirectiveRule("proxy_pass_header", All, DirectiveValueKind.HeaderAndValue, 1, 1),
        new DirectiveRule("proxy_set_header", All, DirectiveValueKind.HeaderAndValue, 2, 2),
        new DirectiveRule("proxy_http_version", All, DirectiveValueKind.Choice, Choices: ["1.0", "1.1"]),
        // Access control and client address.
        new DirectiveRule("allow", All, DirectiveValueKind.AddressList, 1, 64),
        new DirectiveRule("deny", All, DirectiveValueKind.AddressList, 1, 64),
        new DirectiveRule("set_real_ip_from", All, DirectiveValueKind.AddressList, 1, 64),
        new DirectiveRule("real_ip_header", All, DirectiveValueKind.HeaderAndValue, 1, 1),
        new DirectiveRule("real_ip_recursive", All, DirectiveValueKind.Flag),
        // TLS session and protocol settings (certificates are the renderer's).
        new DirectiveRule("ssl_protocols", HttpServer, DirectiveValueKind.Choice, 1, 4, ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]),
        new DirectiveRule("ssl_ciphers", HttpServer, DirectiveValueKind.Tokens),
        new DirectiveRule("ssl_prefer_server_ciphers", HttpServer, DirectiveValueKind.Flag),
        new DirectiveRule("ssl_session_timeout", HttpServer, DirectiveValueKind.Time),
        new DirectiveRule("ssl_session_tickets", HttpServer, DirectiveValueKind.Flag),
        // Hash sizes (http only).
        new DirectiveRule("server_names_hash_bucket_size", DirectiveContext.Http, DirectiveValueKind.Number),
        new DirectiveRule("server_names_hash_max_size", DirectiveContext.Http, DirectiveValueKind.Number),
        new DirectiveRule("types_hash_max_size", DirectiveContext.Http, DirectiveValueKind.Number),
    }.ToDictionary(r => r.Name, StringComparer.Ordinal);

    /// <summary>Names that are never allowed, named here so their refusal says why.</summary>
    public static bool IsNeverAllowed(string name) =>
        name is "include" or "load_module" or "root" or "alias" or "listen" or "server_name" or "proxy_pass" or "error_page"
            or "add_header" or "rewrite" or "set" or "if" or "location" or "server" or "upstream" or "env" or "user" or "pid"
        || name.EndsWith("_log", StringComparison.Ordinal) || name.EndsWith("_path", StringComparison.Ordinal)
        || name.StartsWith("lua", StringComparison.Ordinal) || name.StartsWith("perl", StringComparison.Ordinal)
        || name.StartsWith("js_", StringComparison.Ordinal) || name.StartsWith("ssl_certificate", StringComparison.Ordinal)
        || name.StartsWith("ssl_", StringComparison.Ordinal) && name.Contains("key", StringComparison.Ordinal);

    /// <summary>
    /// Validates one custom directive (name and value) for a context. <paramref name="field"/> is the JSON path of
    /// the map, e.g. <c>locations[0].custom_directives</c>; issues name the entry (<c>….custom_directives.gzip</c>).
    /// </summary>
    public static IReadOnlyList<ValidationIssue> Validate(DirectiveContext context, string? name, string? value, string field = "custom_directives")
    {
        var entry = NginxValidation.MapEntryField(field, name ?? "");
        if (string.IsNullOrEmpty(name))
        {
            return [new(entry, ValidationCodes.Required, "a directive name is required")];
        }
        if (!Allowlist.TryGetValue(name, out var rule) || IsNeverAllowed(name))
        {
            return [new(entry, ValidationCodes.NotAllowed, $"'{NginxValidation.Shorten(name)}' is not an allowed custom directive")];
        }
        if ((rule.Contexts & context) == 0)
        {
            return [new(entry, ValidationCodes.NotAllowed, $"'{name}' is not allowed in {context.ToString().ToLowerInvariant()} context")];
        }
        if (NginxValidation.RequiredText(value, entry, MaxValueLength, allowTab: true) is { } problem)
        {
            return [problem];
        }
        return Arguments(rule, value!, out var message) is null
            ? [NginxValidation.Invalid(entry, message!)]
            : [];
    }

    /// <summary>
    /// The nginx directives (name + arguments) a valid custom directive renders to; most render to one,
    /// address lists to one per address.
    /// </summary>
    /// <exception cref="ArgumentException">The directive does not pass <see cref="Validate"/>.</exception>
    public static IReadOnlyList<string[]> Render(string name, string value)
    {
        if (!Allowlist.TryGetValue(name, out var rule) || Arguments(rule, value, out var message) is not { } arguments)
        {
            throw new ArgumentException($"custom directive '{name}' is not valid");
        }
        return rule.Kind == DirectiveValueKind.AddressList ? arguments.Select(a => new[] { a }).ToArray() : [arguments];
    }

    private static string[]? Arguments(DirectiveRule rule, string value, out string? message)
    {
        message = null;
        var tokens = value.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        string[] arguments;
        switch (rule.Kind)
        {
            case DirectiveValueKind.HeaderAndValue:
            {
                var trimmed = value.Trim();
                var space = trimmed.IndexOfAny([' ', '\t']);
                arguments = space < 0 ? [trimmed] : [trimmed[..space], trimmed[(space + 1)..].Trim()];
                if (arguments.Length < rule.MinArguments || arguments.Length > rule.MaxArguments)
                {
                    message = rule.MaxArguments == 1 ? "expected one header name" : "expected a header name, a space, then the value";
                    return null;
                }
                if (NginxValidation.HeaderName(arguments[0], "x").Count > 0)
                {
                    message = "the first word must be a header name (RFC 9110 token)";
                    return null;
                }
                if (arguments.Length == 2 && NginxVariables.FindProblem(arguments[1]) is { } variableProblem)
                {
                    message = variableProblem;
                    return null;
                }
                return arguments;
            }
            case DirectiveValueKind.CodeAndText:
            {
                var trimmed = value.Trim();
                var space = trimmed.IndexOfAny([' ', '\t']);
                arguments = space < 0 ? [trimmed] : [trimmed[..space], trimmed[(space + 1)..].Trim()];
                if (!int.TryParse(arguments[0], NumberStyles.None, CultureInfo.InvariantCulture, out var code) || code is < 200 or > 599 || arguments[0].Length != 3)
                {
                    message = "expected a status code 200-599, optionally followed by a text or URL";
                    return null;
                }
                if (arguments.Length == 2 && NginxVariables.FindProblem(arguments[1]) is { } variableProblem)
                {
                    message = variableProblem;
                    return null;
                }
                return arguments;
            }
        }
        arguments = tokens;
        if (rule.Kind == DirectiveValueKind.Expires && !IsExpires(arguments))
        {
            message = "expected [modified] time (e.g. 1h, -1, @15h30m), epoch, max or off";
            return null;
        }
        if (arguments.Length < rule.MinArguments || arguments.Length > rule.MaxArguments)
        {
            message = rule.MinArguments == rule.MaxArguments
                ? $"expected {rule.MinArguments} value(s) separated by spaces"
                : $"expected {rule.MinArguments} to {rule.MaxArguments} values separated by spaces";
            return null;
        }
        for (var i = 0; i < arguments.Length; i++)
        {
            var kind = rule.ArgumentKinds is { } kinds ? kinds[Math.Min(i, kinds.Count - 1)] : rule.Kind;
            if (ArgumentProblem(kind, rule, arguments[i]) is { } problem)
            {
                message = problem;
                return null;
            }
        }
        return arguments;
    }

    private static string? ArgumentProblem(DirectiveValueKind kind, DirectiveRule rule, string argument) => kind switch
    {
        DirectiveValueKind.Flag => OnOff.Contains(argument, StringComparer.Ordinal) ? null : "expected on or off",
        DirectiveValueKind.Time => NginxValidation.NginxTime(argument, "x").Count == 0 ? null : "expected an nginx time such as 30s or 1m",
        DirectiveValueKind.Size => NginxValidation.NginxSize(argument, "x").Count == 0 ? null : "expected an nginx size such as 16k or 10m",
        DirectiveValueKind.Number => argument.Length <= 9 && argument.All(char.IsAsciiDigit) ? null : "expected a non-negative integer",
        DirectiveValueKind.Choice => rule.Choices!.Contains(argument, StringComparer.Ordinal) ? null : "expected one of: " + string.Join(", ", rule.Choices!),
        DirectiveValueKind.AddressList => IsAddressOrCidr(argument) ? null : $"'{NginxValidation.Shorten(argument)}' is not an IP address, a CIDR or 'all'",
        DirectiveValueKind.Expires => null,
        _ => NginxVariables.FindProblem(argument),
    };

    private static bool IsExpires(string[] arguments) => arguments switch
    {
        [var only] => only is "epoch" or "max" or "off" || ExpiresTime().IsMatch(only),
        ["modified", var time] => ExpiresTime().IsMatch(time) && !time.StartsWith('@'),
        _ => false,
    };

    private static bool IsAddressOrCidr(string value)
    {
        if (value == "all")
        {
            return true;
        }
        var slash = value.IndexOf('/', StringComparison.Ordinal);
        var address = slash < 0 ? value : value[..slash];
        if (address.Length == 0 || !address.All(c => char.IsAsciiHexDigit(c) || c is ':' or '.') || !IPAddress.TryParse(address, out var ip) || (ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && !NginxValidation.IsIPv4(address)))
        {
            return false;
        }
        if (slash < 0)
        {
            return true;
        }
        var max = ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128;
        return PrefixLength().IsMatch(value[(slash + 1)..]) && int.Parse(value[(slash + 1)..], CultureInfo.InvariantCulture) <= max;
    }

    [GeneratedRegex("^(?:@|[-+]?)(?:[0-9]{1,9}(?:ms|[smhdwMy])?)+$")]
    private static partial Regex ExpiresTime();

    [GeneratedRegex("^[0-9]{1,3}$")]
    private static partial Regex PrefixLength();
}
