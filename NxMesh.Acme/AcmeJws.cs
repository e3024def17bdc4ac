using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace NxMesh.Acme;

/// <summary>
/// Flattened JWS (RFC 7515 §7.2.2) as ACME requests carry them: ES256, with <c>nonce</c> and <c>url</c> in the
/// protected header, and either the account's <c>jwk</c> (newAccount) or its <c>kid</c> (every later request).
/// </summary>
public static class AcmeJws
{
    /// <summary>Signs one request: a null <paramref name="payload"/> is POST-as-GET (empty payload); a null <paramref name="keyId"/> (the account URL) embeds the JWK.</summary>
    public static string Sign(ECDsa key, string nonce, Uri url, JsonNode? payload, string? keyId)
    {
        var header = new JsonObject { ["alg"] = "ES256" };
        if (keyId is null)
        {
            header["jwk"] = AcmeJwk.ToJwk(key);
        }
        else
        {
            header["kid"] = keyId;
        }
        header["nonce"] = nonce;
        header["url"] = url.AbsoluteUri;
        var protectedPart = Encode(header.ToJsonString());
        var payloadPart = payload is null ? "" : Encode(payload.ToJsonString());
        // ECDsa.SignData produces the IEEE P1363 r||s form that JWS ES256 requires (RFC 7518 §3.4).
        var signature = key.SignData(Encoding.ASCII.GetBytes(protectedPart + "." + payloadPart), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        return new JsonObject
        {
            ["protected"] = protectedPart,
            ["payload"] = payloadPart,
            ["signature"] = Base64Url.EncodeToString(signature),
        }.ToJsonString();
    }

    private static string Encode(string json) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(json));
}
