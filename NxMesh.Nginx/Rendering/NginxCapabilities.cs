using System.Text.RegularExpressions;

namespace NxMesh.Nginx.Rendering;

/// <summary>What the local nginx build can serve, read from <c>nginx -V</c> (design.md "Capabilities").</summary>
public sealed partial record NginxCapabilities
{
    /// <summary>e.g. <c>1.22.1</c>; empty when unknown.</summary>
    public string Version { get; init; } = "";
    public bool Ssl { get; init; }
    public bool Http2 { get; init; }
    public bool Http3 { get; init; }
    public bool StubStatus { get; init; }

    /// <summary>A build with ssl, http2 and stub_status but no http3 — what nginx 1.22 from Debian offers.</summary>
    public static NginxCapabilities Standard { get; } = new() { Ssl = true, Http2 = true, StubStatus = true };

    /// <summary>Reads the output of <c>nginx -V</c> (nginx prints it on stderr).</summary>
    public static NginxCapabilities Parse(string nginxVersionOutput)
    {
        var version = VersionPattern().Match(nginxVersionOutput);
        return new NginxCapabilities
        {
            Version = version.Success ? version.Groups[1].Value : "",
            Ssl = HasFlag(nginxVersionOutput, "--with-http_ssl_module"),
            Http2 = HasFlag(nginxVersionOutput, "--with-http_v2_module"),
            Http3 = HasFlag(nginxVersionOutput, "--with-http_v3_module"),
            StubStatus = HasFlag(nginxVersionOutput, "--with-http_stub_status_module"),
        };
    }

    /// <summary>The names an agent reports in <c>RegistrationRequest.capabilities</c>, sorted.</summary>
    public IReadOnlyList<string> Names() =>
        new[] { (Http2, "http2"), (Http3, "http3"), (Ssl, "ssl"), (StubStatus, "stub_status") }.Where(c => c.Item1).Select(c => c.Item2).ToArray();

    private static bool HasFlag(string output, string flag) =>
        Regex.IsMatch(output, $@"(^|\s){Regex.Escape(flag)}(\s|$|=)", RegexOptions.Multiline);

    [GeneratedRegex(@"nginx version: [^/\s]+/([0-9][0-9A-Za-z.\-]*)")]
    private static partial Regex VersionPattern();
}
