using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace NxMesh.Acme;

/// <summary>The certificate signing request sent to finalize: CN = first domain, every domain as a DNS SAN, SHA-256.</summary>
public static class AcmeCsr
{
    public static byte[] Create(IReadOnlyList<string> domains, ECDsa certificateKey)
    {
        if (domains.Count == 0)
        {
            throw new ArgumentException("A CSR names at least one domain.", nameof(domains));
        }
        var subject = new X500DistinguishedNameBuilder();
        subject.AddCommonName(domains[0]);
        var request = new CertificateRequest(subject.Build(), certificateKey, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        foreach (var domain in domains)
        {
            names.AddDnsName(domain);
        }
        request.CertificateExtensions.Add(names.Build());
        return request.CreateSigningRequest();
    }
}
