using Microsoft.EntityFrameworkCore;
using NxMesh.Api.Platform;
using NxMesh.Data;
using NxMesh.Data.Entities;
using NxMesh.Data.Labels;
using NxMesh.Nginx.Validation;

namespace NxMesh.Api.VirtualHosts;

/// <summary>
/// Checks a whole virtual host (a POST body, or the stored one with a PATCH applied) with the nginx library, field
/// by field with the API's paths (<c>locations[0].custom_headers[1].value</c>), plus the references (same workspace)
/// and the per-port rules over the workspace. Problems answer 422; when the only problems are conflicts with other
/// virtual hosts (shared port disagreeing on ssl/http2, server name taken on the port, duplicate location path), 409.
/// </summary>
internal static class VirtualHostValidation
{
    public const int MaxLocations = 100;
    public const int MaxHeaders = 64;
    public const int MaxRewriteRules = 64;
    public const int MaxDirectives = 64;
    public const int MaxAgentIds = 1000;
    public const int MaxLabelSelectorLength = 1024;
    private const string Self = "$self";

    public static async Task<VirtualHost> ValidateAsync(VirtualHostRequest r, Guid workspaceId, Guid? selfId, NxMeshDbContext db, CancellationToken cancellationToken)
    {
        var v = new Validator();
        v.Name("name", r.Name);
        v.Add(NginxValidation.ServerName(r.ServerName, "server_name"));
        var port = r.ListenPort ?? 80;
        v.Add(NginxValidation.ListenPort(port, "listen_port"));
        var ssl = r.SslEnabled ?? false;
        if (ssl && r.SslCertificateId is null)
        {
            v.Add("ssl_certificate_id", ValidationCodes.Required, "ssl_enabled needs ssl_certificate_id");
        }
        if (r.SslCertificateId is { } certificateId)
        {
            // A certificate not issued yet is fine: the virtual host waits for it (left out of the agents' config,
            // reported as waiting_for_certificate) instead of blocking the change.
            var exists = await db.Certificates.AnyAsync(c => c.Id == certificateId && c.WorkspaceId == workspaceId, cancellationToken);
            if (!exists)
            {
                v.Add("ssl_certificate_id", ValidationCodes.NotFound, "no such certificate in this workspace");
            }
        }
        var directives = Directives(v, r.CustomDirectives, DirectiveContext.Server, "custom_directives");
        var locations = await LocationsAsync(v, r.Locations, workspaceId, db, cancellationToken);
        var target = await TargetAsync(v, r.TargetAgents, workspaceId, db, cancellationToken);

        // The per-port rules need a valid server_name and port.
        if (v.Details.All(d => !d.Field.StartsWith("server_name", StringComparison.Ordinal) && !d.Field.StartsWith("listen_port", StringComparison.Ordinal)))
        {
            var others = await db.VirtualHosts.AsNoTracking().IgnoreAutoIncludes()
                .Where(o => o.WorkspaceId == workspaceId && o.Id != selfId)
                .OrderBy(o => o.CreatedAt).ThenBy(o => o.Id)
                .Select(o => new { o.Id, o.Name, o.ServerName, o.ListenPort, o.SslEnabled, o.Http2Enabled })
                .ToListAsync(cancellationToken);
            var infos = others.Select(o => new ConfigUpdateValidator.VirtualHostPortInfo($"virtual host '{o.Name}' ({o.Id})", o.ServerName, o.ListenPort, o.SslEnabled, o.Http2Enabled))
                .Append(new ConfigUpdateValidator.VirtualHostPortInfo(Self, r.ServerName!, port, ssl, r.Http2Enabled ?? false));
            foreach (var issue in ConfigUpdateValidator.PortRules(infos).Where(i => i.Field.StartsWith(Self + ".", StringComparison.Ordinal)))
            {
                v.Add(issue.Field[(Self.Length + 1)..], issue.Code, issue.Message);
            }
        }

        if (!v.IsValid)
        {
            if (v.Details.All(d => d.Code == ValidationCodes.Conflict))
            {
                throw ApiException.Conflict(string.Join("; ", v.Details.Select(d => $"{d.Field}: {d.Message}")), v.Details);
            }
            v.ThrowIfInvalid();
        }
        return new VirtualHost
        {
            WorkspaceId = workspaceId,
            Name = r.Name!.Trim(),
            ServerName = r.ServerName!,
            ListenPort = port,
            SslEnabled = ssl,
            SslCertificateId = r.SslCertificateId,
            Http2Enabled = r.Http2Enabled ?? false,
            Http3Enabled = r.Http3Enabled ?? false,
            CustomDirectives = directives,
            TargetAgents = target,
            Locations = locations,
        };
    }

    private static Dictionary<string, string> Directives(Validator v, Dictionary<string, string?>? input, DirectiveContext context, string field)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (input is null)
        {
            return result;
        }
        if (input.Count > MaxDirectives)
        {
            v.Add(field, ValidationCodes.OutOfRange, $"at most {MaxDirectives} custom directives");
            return result;
        }
        foreach (var (name, value) in input.OrderBy(d => d.Key, StringComparer.Ordinal))
        {
            var issues = CustomDirectives.Validate(context, name, value, field);
            v.Add(issues);
            if (issues.Count == 0)
            {
                result[name] = value!;
            }
        }
        return result;
    }

    private static async Task<List<VirtualHostLocation>> LocationsAsync(Validator v, List<LocationInput?>? input, Guid workspaceId, NxMeshDbContext db, CancellationToken cancellationToken)
    {
        var result = new List<VirtualHostLocation>();
        if (input is null || input.Count == 0)
        {
            return result;
        }
        if (input.Count > MaxLocations)
        {
            v.Add("locations", ValidationCodes.OutOfRange, $"at most {MaxLocations} locations");
            return result;
        }
        var upstreamIds = input.Where(l => l?.UpstreamId is not null).Select(l => l!.UpstreamId!.Value).Distinct().ToList();
        var existing = upstreamIds.Count == 0
            ? []
            : (await db.Upstreams.Where(u => u.WorkspaceId == workspaceId && upstreamIds.Contains(u.Id)).Select(u => u.Id).ToListAsync(cancellationToken)).ToHashSet();
        var paths = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < input.Count; i++)
        {
            var field = $"locations[{i}]";
            if (input[i] is not { } l)
            {
                v.Add(field, ValidationCodes.Required, "a location is an object with a path");
                continue;
            }
            var proxyPass = Blank(l.ProxyPass);
            var root = Blank(l.Root);
            var index = Blank(l.Index);
            var directives = Directives(v, l.CustomDirectives, DirectiveContext.Location, field + ".custom_directives");
            v.Add(NginxValidation.LocationPath(l.Path, field + ".path"));
            v.Add(NginxValidation.LocationTarget(l.Path, l.UpstreamId?.ToString(), proxyPass, root, index,
                l.CustomDirectives?.ContainsKey("return") ?? false, field));
            if (l.UpstreamId is { } upstreamId && !existing.Contains(upstreamId))
            {
                v.Add(field + ".upstream_id", ValidationCodes.NotFound, "no such upstream in this workspace");
            }
            if (proxyPass is not null)
            {
                v.Add(NginxValidation.ProxyPass(proxyPass, field + ".proxy_pass"));
            }
            if (root is not null)
            {
                v.Add(NginxValidation.Root(root, field + ".root"));
            }
            if (index is not null)
            {
                v.Add(NginxValidation.Index(index, field + ".index"));
            }
            var headers = new List<HeaderSpec>();
            if (l.CustomHeaders is { Count: > MaxHeaders })
            {
                v.Add(field + ".custom_headers", ValidationCodes.OutOfRange, $"at most {MaxHeaders} headers");
            }
            else
            {
                for (var h = 0; h < (l.CustomHeaders?.Count ?? 0); h++)
                {
                    var headerField = $"{field}.custom_headers[{h}]";
                    if (l.CustomHeaders![h] is not { } header)
                    {
                        v.Add(headerField, ValidationCodes.Required, "a header is an object with name and value");
                        continue;
                    }
                    v.Add(NginxValidation.HeaderName(header.Name, headerField + ".name"));
                    v.Add(NginxValidation.HeaderValue(header.Value, headerField + ".value"));
                    headers.Add(new HeaderSpec { Name = header.Name ?? "", Value = header.Value ?? "", Always = header.Always ?? false });
                }
            }
            var rewrites = new List<RewriteRuleSpec>();
            if (l.RewriteRules is { Count: > MaxRewriteRules })
            {
                v.Add(field + ".rewrite_rules", ValidationCodes.OutOfRange, $"at most {MaxRewriteRules} rewrite rules");
            }
            else
            {
                for (var w = 0; w < (l.RewriteRules?.Count ?? 0); w++)
                {
                    var ruleField = $"{field}.rewrite_rules[{w}]";
                    if (l.RewriteRules![w] is not { } rule)
                    {
                        v.Add(ruleField, ValidationCodes.Required, "a rewrite rule is an object with pattern and replacement");
                        continue;
                    }
                    v.Add(NginxValidation.RewriteRule(rule.Pattern, rule.Replacement, rule.Flag, ruleField));
                    rewrites.Add(new RewriteRuleSpec { Pattern = rule.Pattern ?? "", Replacement = rule.Replacement ?? "", Flag = Blank(rule.Flag) });
                }
            }
            if (l.Path is not null && NginxValidation.ParseLocation(l.Path) is { } match
                && !paths.Add(match.IsRegex ? l.Path : (match.Modifier == "=" ? "= " : "") + match.Pattern))
            {
                v.Add(field + ".path", ValidationCodes.Conflict, "another location of this virtual host has the same path");
            }
            result.Add(new VirtualHostLocation
            {
                Position = i,
                Path = l.Path ?? "",
                UpstreamId = l.UpstreamId,
                ProxyPass = proxyPass,
                Root = root,
                Index = index,
                CustomHeaders = headers,
                RewriteRules = rewrites,
                CustomDirectives = directives,
            });
        }
        return result;
    }

    private static async Task<TargetAgents> TargetAsync(Validator v, TargetAgentsInput? input, Guid workspaceId, NxMeshDbContext db, CancellationToken cancellationToken)
    {
        var type = input?.Type ?? TargetAgentsType.All;
        var target = new TargetAgents { Type = type };
        if (input is null)
        {
            return target;
        }
        if (type != TargetAgentsType.Selector && input.LabelSelector is not null)
        {
            v.Add("target_agents.label_selector", ValidationCodes.NotAllowed, "label_selector goes with type selector");
        }
        if (type != TargetAgentsType.Agents && input.AgentIds is not null)
        {
            v.Add("target_agents.agent_ids", ValidationCodes.NotAllowed, "agent_ids goes with type agents");
        }
        switch (type)
        {
            case TargetAgentsType.Selector:
                if (string.IsNullOrWhiteSpace(input.LabelSelector))
                {
                    v.Add("target_agents.label_selector", ValidationCodes.Required, "type selector needs a label_selector");
                }
                else if (input.LabelSelector.Length > MaxLabelSelectorLength)
                {
                    v.Add("target_agents.label_selector", ValidationCodes.OutOfRange, $"at most {MaxLabelSelectorLength} characters");
                }
                else if (!LabelSelector.TryParse(input.LabelSelector, out _, out var error))
                {
                    v.Add("target_agents.label_selector", ValidationCodes.InvalidFormat, error);
                }
                else
                {
                    target.LabelSelector = input.LabelSelector;
                }
                break;
            case TargetAgentsType.Agents:
                var ids = input.AgentIds ?? [];
                if (ids.Count == 0)
                {
                    v.Add("target_agents.agent_ids", ValidationCodes.Required, "type agents needs at least one agent id");
                }
                else if (ids.Count > MaxAgentIds)
                {
                    v.Add("target_agents.agent_ids", ValidationCodes.OutOfRange, $"at most {MaxAgentIds} agent ids");
                }
                else
                {
                    var known = (await db.Agents.Where(a => a.WorkspaceId == workspaceId && ids.Contains(a.Id)).Select(a => a.Id).ToListAsync(cancellationToken)).ToHashSet();
                    for (var i = 0; i < ids.Count; i++)
                    {
                        if (!known.Contains(ids[i]))
                        {
                            v.Add($"target_agents.agent_ids[{i}]", ValidationCodes.NotFound, "no such agent in this workspace");
                        }
                    }
                    target.AgentIds = ids.Distinct().ToList();
                }
                break;
        }
        return target;
    }

    private static string? Blank(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
