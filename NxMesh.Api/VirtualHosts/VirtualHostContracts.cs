using System.Text.Json.Serialization;
using NxMesh.Data.Entities;

namespace NxMesh.Api.VirtualHosts;

/// <summary><c>{type: all}</c>, <c>{type: selector, label_selector}</c> or <c>{type: agents, agent_ids}</c>.</summary>
public sealed record TargetAgentsResponse(
    TargetAgentsType Type,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? LabelSelector,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<Guid>? AgentIds)
{
    public static TargetAgentsResponse From(TargetAgents t) => t.Type switch
    {
        TargetAgentsType.Selector => new(t.Type, t.LabelSelector, null),
        TargetAgentsType.Agents => new(t.Type, null, t.AgentIds),
        _ => new(t.Type, null, null),
    };
}

public sealed record HeaderResponse(string Name, string Value, bool Always);

public sealed record RewriteRuleResponse(string Pattern, string Replacement, [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Flag);

/// <summary>A location shows the one target it has (<c>upstream_id</c>, <c>proxy_pass</c> or <c>root</c>+<c>index</c>).</summary>
public sealed record LocationResponse(
    string Path,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Guid? UpstreamId,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ProxyPass,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Root,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Index,
    IReadOnlyList<HeaderResponse> CustomHeaders,
    IReadOnlyList<RewriteRuleResponse> RewriteRules,
    IReadOnlyDictionary<string, string> CustomDirectives)
{
    public static LocationResponse From(VirtualHostLocation l) => new(l.Path, l.UpstreamId, l.ProxyPass, l.Root, l.Index,
        l.CustomHeaders.Select(h => new HeaderResponse(h.Name, h.Value, h.Always)).ToList(),
        l.RewriteRules.Select(r => new RewriteRuleResponse(r.Pattern, r.Replacement, r.Flag)).ToList(),
        l.CustomDirectives);
}

/// <summary>The spec's virtual host plus <c>http3_enabled</c>, <c>locations</c> and <c>custom_directives</c> (lists and reads alike).</summary>
public sealed record VirtualHostResponse(
    Guid Id, Guid WorkspaceId, string Name, string ServerName, int ListenPort, bool SslEnabled, Guid? SslCertificateId,
    bool Http2Enabled, bool Http3Enabled, TargetAgentsResponse TargetAgents, IReadOnlyList<LocationResponse> Locations,
    IReadOnlyDictionary<string, string> CustomDirectives, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt,
    bool WaitingForCertificate)
{
    /// <summary>
    /// <c>waiting_for_certificate</c>: an ssl_enabled virtual host whose certificate is not issued yet (pending, or failed
    /// before a first issuance) or has expired; it is left out of the agents' config until the certificate is usable.
    /// </summary>
    public static VirtualHostResponse From(VirtualHost v) => new(v.Id, v.WorkspaceId, v.Name, v.ServerName, v.ListenPort, v.SslEnabled,
        v.SslCertificateId, v.Http2Enabled, v.Http3Enabled, TargetAgentsResponse.From(v.TargetAgents),
        v.Locations.OrderBy(l => l.Position).Select(LocationResponse.From).ToList(), v.CustomDirectives, v.CreatedAt, v.UpdatedAt,
        NxMesh.Data.DesiredConfig.DesiredConfigBuilder.WaitsForCertificate(v, v.SslCertificate));
}

public sealed record TargetAgentsInput(TargetAgentsType? Type, string? LabelSelector, List<Guid>? AgentIds);

public sealed record HeaderInput(string? Name, string? Value, bool? Always);

public sealed record RewriteRuleInput(string? Pattern, string? Replacement, string? Flag);

/// <summary>Exactly one of <c>upstream_id</c>, <c>proxy_pass</c>, <c>root</c> (with optional <c>index</c>), or a <c>return</c> custom directive.</summary>
public sealed record LocationInput(
    string? Path, Guid? UpstreamId, string? ProxyPass, string? Root, string? Index,
    List<HeaderInput?>? CustomHeaders, List<RewriteRuleInput?>? RewriteRules, Dictionary<string, string?>? CustomDirectives);

/// <summary>
/// POST body, and the fields a PATCH may carry: each present field replaces (<c>locations</c> as a whole list),
/// absent fields keep their value, <c>ssl_certificate_id: null</c> clears the certificate. Defaults on create:
/// listen_port 80, flags false, no locations, target_agents {type: all}.
/// </summary>
public sealed record VirtualHostRequest(
    string? Name, string? ServerName, int? ListenPort, bool? SslEnabled, Guid? SslCertificateId, bool? Http2Enabled, bool? Http3Enabled,
    List<LocationInput?>? Locations, Dictionary<string, string?>? CustomDirectives, TargetAgentsInput? TargetAgents);
