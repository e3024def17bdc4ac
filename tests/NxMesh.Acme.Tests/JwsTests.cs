using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Xunit;

namespace NxMesh.Acme.Tests;

public sealed class JwsTests
{
    private static readonly Uri Url = new("https://acme.test/new-order");

    [Fact]
    public void Jws_with_jwk_is_a_verifiable_es256_signature_over_protected_and_payload()
    {
        using var key = AcmeAccountKey.Create();
        var jws = JsonDocument.Parse(AcmeJws.Sign(key, "nonce-1", Url, new JsonObject { ["a"] = 1 }, keyId: null)).RootElement;

        var protectedPart = jws.GetProperty("protected").GetString()!;
        var payloadPart = jws.GetProperty("payload").GetString()!;
        var signature = Base64Url.DecodeFromChars(jws.GetProperty("signature").GetString()!);
        Assert.Equal(64, signature.Length);
        Assert.True(key.VerifyData(Encoding.ASCII.GetBytes(protectedPart + "." + payloadPart), signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation));

        var header = JsonDocument.Parse(Base64Url.DecodeFromChars(protectedPart)).RootElement;
        Assert.Equal("ES256", header.GetProperty("alg").GetString());
        Assert.Equal("nonce-1", header.GetProperty("nonce").GetString());
        Assert.Equal(Url.AbsoluteUri, header.GetProperty("url").GetString());
        Assert.Equal("EC", header.GetProperty("jwk").GetProperty("kty").GetString());
        Assert.False(header.TryGetProperty("kid", out _));
        Assert.Equal("""{"a":1}""", Encoding.UTF8.GetString(Base64Url.DecodeFromChars(payloadPart)));
    }

    [Fact]
    public void Jws_with_kid_has_no_jwk_and_post_as_get_has_an_empty_payload()
    {
        using var key = AcmeAccountKey.Create();
        var jws = JsonDocument.Parse(AcmeJws.Sign(key, "n", Url, null, "https://acme.test/acct/7")).RootElement;
        var header = JsonDocument.Parse(Base64Url.DecodeFromChars(jws.GetProperty("protected").GetString()!)).RootElement;
        Assert.Equal("https://acme.test/acct/7", header.GetProperty("kid").GetString());
        Assert.False(header.TryGetProperty("jwk", out _));
        Assert.Equal("", jws.GetProperty("payload").GetString());
    }

    [Fact]
    public void Signature_does_not_verify_with_another_key()
    {
        using var key = AcmeAccountKey.Create();
        using var other = AcmeAccountKey.Create();
        var jws = JsonDocument.Parse(AcmeJws.Sign(key, "n", Url, new JsonObject(), "kid")).RootElement;
        var input = Encoding.ASCII.GetBytes(jws.GetProperty("protected").GetString() + "." + jws.GetProperty("payload").GetString());
        Assert.False(other.VerifyData(input, Base64Url.DecodeFromChars(jws.GetProperty("signature").GetString()!), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation));
    }

    /// <summary>RFC 7517 A.1's EC key; the expected value was computed independently (Python: sorted compact JSON, SHA-256, base64url).</summary>
    [Fact]
    public void Thumbprint_follows_rfc7638_for_a_known_key()
    {
        using var key = ECDsa.Create(new ECParameters
        {
            Curve = ECCurve.NamedCurves.nistP256,
            Q = new ECPoint
            {
                X = Base64Url.DecodeFromChars("MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4"),
                Y = Base64Url.DecodeFromChars("4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"),
            },
            D = Base64Url.DecodeFromChars("870MB6gfuTJ4HtUnUvYMyJpr5eUZNP4Bk43bVdj3eAE"),
        });
        Assert.Equal("cn-I_WNMClehiVp51i_0VpOENW1upEerA8sEam5hn-s", AcmeJwk.Thumbprint(key));
        Assert.Equal("tok.cn-I_WNMClehiVp51i_0VpOENW1upEerA8sEam5hn-s", AcmeJwk.KeyAuthorization("tok", key));
    }

    [Fact]
    public void Account_key_survives_pem_export_and_import_with_the_same_thumbprint()
    {
        using var key = AcmeAccountKey.Create();
        using var again = AcmeAccountKey.ImportPem(AcmeAccountKey.ExportPem(key));
        Assert.Equal(AcmeJwk.Thumbprint(key), AcmeJwk.Thumbprint(again));
        using var other = AcmeAccountKey.Create();
        Assert.NotEqual(AcmeJwk.Thumbprint(key), AcmeJwk.Thumbprint(other));
    }

    [Fact]
    public void Non_p256_keys_are_refused()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        Assert.Throws<ArgumentException>(() => AcmeJwk.Thumbprint(key));
    }
}
