using System.Text.Json;

namespace NxMesh.Acme;

/// <summary>The directory (RFC 8555 §7.1.1): the URLs of the server's resources.</summary>
public sealed record AcmeDirectory(Uri NewNonce, Uri NewAccount, Uri NewOrder, string? TermsOfService);

/// <summary>An order (§7.1.3), with its URL from the Location header.</summary>
public sealed record AcmeOrder(Uri Url, string Status, IReadOnlyList<Uri> Authorizations, Uri Finalize, Uri? Certificate, AcmeProblem? Error);

/// <summary>An authorization (§7.1.4) for one identifier, with its challenges.</summary>
public sealed record AcmeAuthorization(Uri Url, string Identifier, string Status, IReadOnlyList<AcmeChallenge> Challenges)
{
    public AcmeChallenge? Http01 => Challenges.FirstOrDefault(c => c.Type == "http-01");

    /// <summary>The first challenge error, the reason an invalid authorization failed.</summary>
    public AcmeProblem? Error => Challenges.Select(c => c.Error).FirstOrDefault(e => e is not null);
}

/// <summary>A challenge (§7.1.5/§8).</summary>
public sealed record AcmeChallenge(Uri Url, string Type, string Status, string Token, AcmeProblem? Error);

internal static class AcmeJson
{
    public static AcmeDirectory Directory(JsonElement e) =>
        new(RequiredUri(e, "newNonce"), RequiredUri(e, "newAccount"), RequiredUri(e, "newOrder"),
            e.TryGetProperty("meta", out var meta) && meta.ValueKind == JsonValueKind.Object && meta.TryGetProperty("termsOfService", out var tos) ? tos.GetString() : null);

    public static AcmeOrder Order(Uri url, JsonElement e) =>
        new(url, RequiredString(e, "status"),
            e.TryGetProperty("authorizations", out var a) && a.ValueKind == JsonValueKind.Array ? [.. a.EnumerateArray().Select(x => new Uri(x.GetString()!))] : [],
            RequiredUri(e, "finalize"),
            e.TryGetProperty("certificate", out var c) && c.ValueKind == JsonValueKind.String ? new Uri(c.GetString()!) : null,
            e.TryGetProperty("error", out var error) ? AcmeProblem.From(error) : null);

    public static AcmeAuthorization Authorization(Uri url, JsonElement e) =>
        new(url,
            e.TryGetProperty("identifier", out var id) && id.TryGetProperty("value", out var value) ? value.GetString() ?? "" : "",
            RequiredString(e, "status"),
            e.TryGetProperty("challenges", out var list) && list.ValueKind == JsonValueKind.Array ? [.. list.EnumerateArray().Select(Challenge)] : []);

    public static AcmeChallenge Challenge(JsonElement e) =>
        new(RequiredUri(e, "url"), RequiredString(e, "type"), RequiredString(e, "status"),
            e.TryGetProperty("token", out var token) ? token.GetString() ?? "" : "",
            e.TryGetProperty("error", out var error) ? AcmeProblem.From(error) : null);

    private static string RequiredString(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String
            ? v.GetString()!
            : throw new AcmeException($"The ACME server's answer has no '{name}'.");

    private static Uri RequiredUri(JsonElement e, string name) =>
        Uri.TryCreate(RequiredString(e, name), UriKind.Absolute, out var uri) ? uri : throw new AcmeException($"The ACME server's '{name}' is not an absolute URL.");
}
