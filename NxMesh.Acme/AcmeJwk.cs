using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace NxMesh.Acme;

/// <summary>The JSON Web Key of an ES256 (P-256) account key and its RFC 7638 thumbprint.</summary>
public static class AcmeJwk
{
    public static JsonObject ToJwk(ECDsa key)
    {
        var (x, y) = Coordinates(key);
        // Members in the lexicographic order RFC 7638 requires, so the same object serves as thumbprint input.
        return new JsonObject { ["crv"] = "P-256", ["kty"] = "EC", ["x"] = x, ["y"] = y };
    }

    /// <summary>base64url(SHA-256(canonical JWK)): the account part of an HTTP-01 key authorization.</summary>
    public static string Thumbprint(ECDsa key)
    {
        var (x, y) = Coordinates(key);
        var canonical = $$"""{"crv":"P-256","kty":"EC","x":"{{x}}","y":"{{y}}"}""";
        return Base64Url.EncodeToString(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)));
    }

    /// <summary>token + "." + thumbprint (RFC 8555 §8.1).</summary>
    public static string KeyAuthorization(string token, ECDsa key) => token + "." + Thumbprint(key);

    private static (string X, string Y) Coordinates(ECDsa key)
    {
        var parameters = key.ExportParameters(includePrivateParameters: false);
        if (parameters.Curve.Oid.Value != ECCurve.NamedCurves.nistP256.Oid.Value || parameters.Q.X is null || parameters.Q.Y is null)
        {
            throw new ArgumentException("An ACME account key here is an ECDSA P-256 key (ES256).", nameof(key));
        }
        return (Base64Url.EncodeToString(parameters.Q.X), Base64Url.EncodeToString(parameters.Q.Y));
    }
}
