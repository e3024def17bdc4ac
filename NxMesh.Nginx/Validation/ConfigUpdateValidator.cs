using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using NxMesh.Protocol.V1;

namespace NxMesh.Nginx.Validation;

/// <summary>
/// Validates a whole <see cref="ConfigUpdate"/>: every field with <see cref="NginxValidation"/> and
/// <see cref="CustomDirectives"/>, references (upstream_id, ssl_certificate_id), and the cross-object rules of
/// design.md. The agent runs it before rendering (defence in depth); the renderer refuses input it rejects.
/// Field paths follow the proto JSON names: <c>virtual_hosts[0].locations[1].custom_headers[0].value</c>.
/// </summary>
public static class ConfigUpdateValidator
{
    public static IReadOnlyList<ValidationIssue> Validate(ConfigUpdate update)
    {
        var issues = new List<ValidationIssue>();
        if (update.ConfigId.Length > 128 || !update.ConfigId.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
        {
            issues.Add(new("config_id", ValidationCodes.InvalidFormat, "config_id is at most 128 letters, digits, '-', '_' or '.' (a SHA-256 in hex)"));
        }
        var upstreamIds = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < update.Upstreams.Count; i++)
        {
            var upstream = update.Upstreams[i];
            var field = $"upstreams[{i}]";
            ValidateUpstream(upstream, field, issues);
            if (!upstreamIds.Add(upstream.Id))
            {
                issues.Add(new(field + ".id", ValidationCodes.Conflict, "upstream ids are unique"));
            }
        }

        foreach (var (id, certificate) in update.Certificates.OrderBy(c => c.Key, StringComparer.Ordinal))
        {
            ValidateCertificate(id, certificate, NginxValidation.MapEntryField("certificates", id), issues);
        }

        var tokens = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < update.AcmeChallenges.Count; i++)
        {
            var challenge = update.AcmeChallenges[i];
            issues.AddRange(AcmeChallenges.Validate(challenge.Token, challenge.KeyAuthorization, $"acme_challenges[{i}]"));
            if (!tokens.Add(challenge.Token))
            {
                issues.Add(new($"acme_challenges[{i}].token", ValidationCodes.Conflict, "challenge tokens are unique"));
            }
        }

        var vhostIds = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < update.VirtualHosts.Count; i++)
        {
            var vhost = update.VirtualHosts[i];
            var field = $"virtual_hosts[{i}]";
            ValidateVirtualHost(vhost, field, upstreamIds, update.Certificates, issues);
            if (!vhostIds.Add(vhost.Id))
            {
                issues.Add(new(field + ".id", ValidationCodes.Conflict, "virtual host ids are unique"));
            }
        }
        issues.AddRange(PortRules(update.VirtualHosts.Select((v, i) =>
            new VirtualHostPortInfo($"virtual_hosts[{i}]", v.ServerName, (int)Math.Min(v.ListenPort, int.MaxValue), v.SslEnabled, v.Http2Enabled))));

        if (update.GlobalSettings is { } global)
        {
            foreach (var (name, value) in global.NginxDirectives.OrderBy(d => d.Key, StringComparer.Ordinal))
            {
                issues.AddRange(CustomDirectives.Validate(DirectiveContext.Http, name, value, "global_settings.nginx_directives"));
            }
            foreach (var (name, value) in global.EnvVars.OrderBy(d => d.Key, StringComparer.Ordinal))
            {
                issues.AddRange(NginxValidation.EnvVar(name, value, "global_settings.env_vars"));
            }
        }
        return issues;
    }

    /// <summary>
    /// One upstream as the Api receives it (field paths relative to <paramref name="field"/>, "" for a request body):
    /// every field, algorithm/backup rules, at least one non-backup server. The id is checked only when present.
    /// </summary>
    public static IReadOnlyList<ValidationIssue> ValidateUpstream(Upstream upstream, string field = "")
    {
        var issues = new List<ValidationIssue>();
        ValidateUpstream(upstream, field, issues, requireId: false);
        return issues;
    }

    /// <summary>
    /// One virtual host as the Api receives it: every field, its locations and custom directives, http2/ssl/port 80
    /// rules. References (upstream_id, ssl_certificate_id) and per-workspace rules (<see cref="PortRules"/>) are the
    /// caller's, since they need the workspace. The id is checked only when present.
    /// </summary>
    public static IReadOnlyList<ValidationIssue> ValidateVirtualHost(VirtualHost vhost, string field = "")
    {
        var issues = new List<ValidationIssue>();
        ValidateVirtualHost(vhost, field, null, null, issues, requireId: false);
        issues.AddRange(PortRules([new VirtualHostPortInfo(field, vhost.ServerName, (int)Math.Min(vhost.ListenPort, int.MaxValue), vhost.SslEnabled, vhost.Http2Enabled)])
            .Where(i => i.Code != ValidationCodes.Conflict));
        return issues;
    }

    /// <summary>One location (paths relative to <paramref name="field"/>), without the upstream_id reference check.</summary>
    public static IReadOnlyList<ValidationIssue> ValidateLocation(Location location, string field = "")
    {
        var issues = new List<ValidationIssue>();
        ValidateLocation(location, field, null, issues);
        return issues;
    }

    /// <summary>What the per-port rules need from a virtual host; the Api builds these from the workspace.</summary>
    public sealed record VirtualHostPortInfo(string Field, string ServerName, int ListenPort, bool SslEnabled, bool Http2Enabled);

    /// <summary>
    /// The per-port rules of design.md over all virtual hosts of a workspace: virtual hosts sharing a port agree on
    /// ssl and http2 (nginx applies them per address:port), and each server name appears once per port. Those
    /// violations are <see cref="ValidationCodes.Conflict"/> (409). Also http2 requires ssl, and ssl on port 80 is
    /// refused (422). Issues are reported on the later virtual host of a conflicting pair.
    /// </summary>
    public static IReadOnlyList<ValidationIssue> PortRules(IEnumerable<VirtualHostPortInfo> virtualHosts)
    {
        var issues = new List<ValidationIssue>();
        var firstOnPort = new Dictionary<int, VirtualHostPortInfo>();
        var namesOnPort = new Dictionary<(int, string), VirtualHostPortInfo>();
        foreach (var vhost in virtualHosts)
        {
            if (vhost.Http2Enabled && !vhost.SslEnabled)
            {
                issues.Add(new(At(vhost.Field, "http2_enabled"), ValidationCodes.NotAllowed, "http2 requires ssl (nginx 1.22 would serve HTTP/2 prior-knowledge only)"));
            }
            if (vhost.SslEnabled && vhost.ListenPort == 80)
            {
                issues.Add(new(At(vhost.Field, "ssl_enabled"), ValidationCodes.NotAllowed, "port 80 stays plain HTTP (default server and ACME challenges)"));
            }
            if (firstOnPort.TryGetValue(vhost.ListenPort, out var first))
            {
                if (first.SslEnabled != vhost.SslEnabled)
                {
                    issues.Add(new(At(vhost.Field, "ssl_enabled"), ValidationCodes.Conflict, $"virtual hosts on port {vhost.ListenPort} must agree on ssl ({first.Field} has ssl_enabled={Lower(first.SslEnabled)})"));
                }
                if (first.Http2Enabled != vhost.Http2Enabled)
                {
                    issues.Add(new(At(vhost.Field, "http2_enabled"), ValidationCodes.Conflict, $"virtual hosts on port {vhost.ListenPort} must agree on http2 ({first.Field} has http2_enabled={Lower(first.Http2Enabled)})"));
                }
            }
            else
            {
                firstOnPort[vhost.ListenPort] = vhost;
            }
            if (NginxValidation.ServerName(vhost.ServerName).Count > 0)
            {
                continue;
            }
            foreach (var name in NginxValidation.SplitServerNames(vhost.ServerName))
            {
                if (namesOnPort.TryGetValue((vhost.ListenPort, name), out var owner))
                {
                    issues.Add(new(At(vhost.Field, "server_name"), ValidationCodes.Conflict, $"'{name}' on port {vhost.ListenPort} is already served by {owner.Field}"));
                }
                else
                {
                    namesOnPort[(vhost.ListenPort, name)] = vhost;
                }
            }
        }
        return issues;
    }

    private static void ValidateUpstream(Upstream upstream, string field, List<ValidationIssue> issues, bool requireId = true)
    {
        if (requireId || upstream.Id.Length > 0)
        {
            issues.AddRange(NginxValidation.Id(upstream.Id, At(field, "id")));
        }
        issues.AddRange(NginxValidation.DisplayName(upstream.Name, At(field, "name")));
        if (!Enum.IsDefined(upstream.Algorithm))
        {
            issues.Add(new(At(field, "algorithm"), ValidationCodes.InvalidFormat, "unknown algorithm"));
        }
        if (upstream.Servers.Count == 0)
        {
            issues.Add(new(At(field, "servers"), ValidationCodes.Required, "an upstream needs at least one server"));
        }
        else if (upstream.Servers.All(s => s.Backup))
        {
            issues.Add(new(At(field, "servers"), ValidationCodes.NotAllowed, "an upstream needs at least one server that is not a backup"));
        }
        for (var s = 0; s < upstream.Servers.Count; s++)
        {
            var server = upstream.Servers[s];
            var serverField = At(field, $"servers[{s}]");
            issues.AddRange(NginxValidation.UpstreamServerAddress(server.Address, At(serverField, "address")));
            if (server.Weight != 0)
            {
                issues.AddRange(NginxValidation.Weight(server.Weight, At(serverField, "weight")));
            }
            issues.AddRange(NginxValidation.MaxFails(server.MaxFails, At(serverField, "max_fails")));
            issues.AddRange(NginxValidation.FailTimeoutSeconds(server.FailTimeoutSeconds, At(serverField, "fail_timeout")));
            if (server.Backup && upstream.Algorithm == LoadBalanceAlgorithm.IpHash)
            {
                issues.Add(new(At(serverField, "backup"), ValidationCodes.NotAllowed, "backup servers cannot be used with ip_hash (nginx forbids it)"));
            }
        }
        issues.AddRange(NginxValidation.Keepalive(upstream.KeepaliveConnections, At(field, "keepalive_connections")));
        if (upstream.HealthCheck is { } check)
        {
            issues.AddRange(NginxValidation.HealthCheck(check.Enabled, check.Path, check.IntervalSeconds, check.TimeoutSeconds,
                check.HealthyThreshold, check.UnhealthyThreshold, At(field, "health_check")));
        }
    }

    private static void ValidateCertificate(string id, Certificate certificate, string field, List<ValidationIssue> issues)
    {
        issues.AddRange(NginxValidation.Id(id, field));
        if (certificate.Id.Length > 0 && certificate.Id != id)
        {
            issues.Add(new(At(field, "id"), ValidationCodes.InvalidFormat, "the certificate id must equal its map key"));
        }
        if (certificate.Domain.Length > 0)
        {
            issues.AddRange(NginxValidation.ServerName(certificate.Domain, At(field, "domain")).Take(1));
        }
        if (string.IsNullOrEmpty(certificate.CertificatePem) || string.IsNullOrEmpty(certificate.PrivateKeyPem))
        {
            issues.Add(new(At(field, "certificate_pem"), ValidationCodes.Required, "certificate_pem and private_key_pem are required"));
            return;
        }
        try
        {
            using var parsed = X509Certificate2.CreateFromPem(certificate.CertificatePem, certificate.PrivateKeyPem);
        }
        catch (CryptographicException ex)
        {
            issues.Add(new(At(field, "certificate_pem"), ValidationCodes.InvalidFormat, "the certificate and private key must be PEM and match: " + NginxValidation.Shorten(ex.Message, 120)));
        }
        catch (ArgumentException ex)
        {
            issues.Add(new(At(field, "certificate_pem"), ValidationCodes.InvalidFormat, "the certificate and private key must be PEM: " + NginxValidation.Shorten(ex.Message, 120)));
        }
    }

    private static void ValidateVirtualHost(VirtualHost vhost, string field, HashSet<string>? upstreamIds,
        IDictionary<string, Certificate>? certificates, List<ValidationIssue> issues, bool requireId = true)
    {
        if (requireId || vhost.Id.Length > 0)
        {
            issues.AddRange(NginxValidation.Id(vhost.Id, At(field, "id")));
        }
        issues.AddRange(NginxValidation.DisplayName(vhost.Name, At(field, "name")));
        issues.AddRange(NginxValidation.ServerName(vhost.ServerName, At(field, "server_name")));
        issues.AddRange(NginxValidation.ListenPort(vhost.ListenPort, At(field, "listen_port")));
        if (vhost.SslEnabled)
        {
            if (string.IsNullOrEmpty(vhost.SslCertificateId))
            {
                issues.Add(new(At(field, "ssl_certificate_id"), ValidationCodes.Required, "ssl needs a certificate"));
            }
            else if (certificates is not null && !certificates.ContainsKey(vhost.SslCertificateId))
            {
                issues.Add(new(At(field, "ssl_certificate_id"), ValidationCodes.NotFound, "the certificate is not in this config"));
            }
        }
        foreach (var (name, value) in vhost.CustomDirectives.OrderBy(d => d.Key, StringComparer.Ordinal))
        {
            issues.AddRange(CustomDirectives.Validate(DirectiveContext.Server, name, value, At(field, "custom_directives")));
        }
        var paths = new HashSet<string>(StringComparer.Ordinal);
        for (var l = 0; l < vhost.Locations.Count; l++)
        {
            var location = vhost.Locations[l];
            var locationField = At(field, $"locations[{l}]");
            ValidateLocation(location, locationField, upstreamIds, issues);
            if (NginxValidation.ParseLocation(location.Path) is { } match && !paths.Add(match.Modifier is "~" or "~*" ? location.Path : (match.Modifier == "=" ? "= " : "") + match.Pattern))
            {
                issues.Add(new(At(locationField, "path"), ValidationCodes.NotAllowed, "another location of this virtual host has the same path (nginx refuses duplicates)"));
            }
        }
    }

    private static void ValidateLocation(Location location, string field, HashSet<string>? upstreamIds, List<ValidationIssue> issues)
    {
        issues.AddRange(NginxValidation.LocationPath(location.Path, At(field, "path")));
        issues.AddRange(NginxValidation.LocationTarget(location.Path, location.UpstreamId, location.ProxyPass, location.Root, location.Index,
            location.CustomDirectives.ContainsKey("return"), field));
        if (location.UpstreamId.Length > 0 && upstreamIds is not null && !upstreamIds.Contains(location.UpstreamId))
        {
            issues.Add(new(At(field, "upstream_id"), ValidationCodes.NotFound, "the upstream is not in this config"));
        }
        if (location.ProxyPass.Length > 0)
        {
            issues.AddRange(NginxValidation.ProxyPass(location.ProxyPass, At(field, "proxy_pass")));
        }
        if (location.Root.Length > 0)
        {
            issues.AddRange(NginxValidation.Root(location.Root, At(field, "root")));
        }
        if (location.Index.Length > 0)
        {
            issues.AddRange(NginxValidation.Index(location.Index, At(field, "index")));
        }
        for (var h = 0; h < location.CustomHeaders.Count; h++)
        {
            var header = location.CustomHeaders[h];
            issues.AddRange(NginxValidation.HeaderName(header.Name, At(field, $"custom_headers[{h}].name")));
            issues.AddRange(NginxValidation.HeaderValue(header.Value, At(field, $"custom_headers[{h}].value")));
        }
        for (var r = 0; r < location.RewriteRules.Count; r++)
        {
            var rule = location.RewriteRules[r];
            issues.AddRange(NginxValidation.RewriteRule(rule.Pattern, rule.Replacement, rule.Flag, At(field, $"rewrite_rules[{r}]")));
        }
        foreach (var (name, value) in location.CustomDirectives.OrderBy(d => d.Key, StringComparer.Ordinal))
        {
            issues.AddRange(CustomDirectives.Validate(DirectiveContext.Location, name, value, At(field, "custom_directives")));
        }
    }

    private static string At(string field, string name) => field.Length == 0 ? name : field + "." + name;

    private static string Lower(bool value) => value ? "true" : "false";
}
