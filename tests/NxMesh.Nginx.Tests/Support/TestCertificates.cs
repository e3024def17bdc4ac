using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using NxMesh.Protocol.V1;

namespace NxMesh.Nginx.Tests.Support;

/// <summary>Self-signed certificates made once per test run with System.Security.Cryptography.</summary>
public static class TestCertificates
{
    private static readonly Lazy<(string Certificate, string Key)> Shared = new(() => Create("example.test"));

    public static string CertificatePem => Shared.Value.Certificate;
    public static string PrivateKeyPem => Shared.Value.Key;

    public static Certificate Proto(string id, string domain = "example.test") =>
        new() { Id = id, Domain = domain, CertificatePem = CertificatePem, PrivateKeyPem = PrivateKeyPem, ExpiresAt = 4102444800000 };

    public static (string Certificate, string Key) Create(string domain)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=" + domain, key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName(domain);
        names.AddDnsName("*." + domain);
        request.CertificateExtensions.Add(names.Build());
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        return (certificate.ExportCertificatePem(), key.ExportPkcs8PrivateKeyPem());
    }
}
