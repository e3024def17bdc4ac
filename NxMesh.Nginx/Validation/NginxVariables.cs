namespace NxMesh.Nginx.Validation;

/// <summary>
/// The nginx variables a user value may reference (header values, <c>proxy_pass</c> paths, rewrite replacements,
/// custom directive values). <c>$</c> cannot be escaped in nginx 1.22, so every <c>$</c> must start a known
/// variable, a <c>${name}</c> form of one, or a regex capture <c>$1</c>…<c>$9</c>. The list is documented in
/// NxMesh.Nginx/README.md; variables that reveal server file paths are deliberately absent.
/// </summary>
public static class NginxVariables
{
    /// <summary>Variables known by exact name (nginx 1.22 http core, proxy, upstream, ssl, realip, gzip, http2).</summary>
    public static readonly IReadOnlySet<string> KnownVariables = new SortedSet<string>(StringComparer.Ordinal)
    {
        "args", "binary_remote_addr", "body_bytes_sent", "bytes_sent", "connection", "connection_requests",
        "connection_time", "content_length", "content_type", "document_uri", "host", "hostname", "https", "is_args",
        "limit_rate", "msec", "nginx_version", "pid", "pipe", "proxy_protocol_addr", "proxy_protocol_port",
        "query_string", "remote_addr", "remote_port", "remote_user", "request", "request_completion",
        "request_id", "request_length", "request_method", "request_time", "request_uri", "scheme", "server_addr",
        "server_name", "server_port", "server_protocol", "status", "time_iso8601", "time_local", "uri",
        "proxy_host", "proxy_port", "proxy_add_x_forwarded_for",
        "upstream_addr", "upstream_bytes_received", "upstream_bytes_sent", "upstream_cache_status",
        "upstream_connect_time", "upstream_header_time", "upstream_response_length", "upstream_response_time",
        "upstream_status",
        "ssl_cipher", "ssl_protocol", "ssl_server_name", "ssl_session_reused",
        "realip_remote_addr", "realip_remote_port", "gzip_ratio", "http2",
    };

    /// <summary>Variable families: any name with one of these prefixes followed by at least one character.</summary>
    public static readonly IReadOnlyList<string> KnownPrefixes =
    [
        "arg_", "cookie_", "http_", "sent_http_", "sent_trailer_", "upstream_http_", "upstream_cookie_", "upstream_trailer_",
    ];

    public static bool IsKnown(string name) =>
        KnownVariables.Contains(name)
        || KnownPrefixes.Any(prefix => name.Length > prefix.Length && name.StartsWith(prefix, StringComparison.Ordinal));

    /// <summary>True when the value contains at least one <c>$</c> (a variable or capture reference).</summary>
    public static bool HasVariables(string value) => value.Contains('$', StringComparison.Ordinal);

    /// <summary>
    /// Checks every <c>$</c> reference in a value: a known variable (<c>$name</c> or <c>${name}</c>) or, when
    /// <paramref name="allowCaptures"/>, a capture <c>$1</c>…<c>$9</c>. Returns the first problem, or null.
    /// </summary>
    public static string? FindProblem(string value, bool allowCaptures = true)
    {
        for (var i = 0; i < value.Length; i++)
        {
            if (value[i] != '$')
            {
                continue;
            }
            if (i + 1 >= value.Length)
            {
                return "a '$' at the end cannot be expressed in nginx (it starts a variable)";
            }
            var next = value[i + 1];
            if (next is >= '1' and <= '9')
            {
                if (!allowCaptures)
                {
                    return $"regex capture '${next}' is not allowed here";
                }
                i++;
                continue;
            }
            string name;
            if (next == '{')
            {
                var close = value.IndexOf('}', i + 2);
                if (close < 0)
                {
                    return "'${' without a closing '}'";
                }
                name = value[(i + 2)..close];
                if (name.Length == 0 || !name.All(IsNameChar))
                {
                    return $"'${{{name}}}' is not a valid variable reference";
                }
                i = close;
            }
            else
            {
                var end = i + 1;
                while (end < value.Length && IsNameChar(value[end]))
                {
                    end++;
                }
                name = value[(i + 1)..end];
                if (name.Length == 0)
                {
                    return "a literal '$' cannot be expressed in nginx; '$' must start a known variable such as $host";
                }
                i = end - 1;
            }
            if (name[0] is >= '0' and <= '9' || !IsKnown(name))
            {
                return $"'${name}' is not a known nginx variable";
            }
        }
        return null;
    }

    private static bool IsNameChar(char c) => c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '_';
}
