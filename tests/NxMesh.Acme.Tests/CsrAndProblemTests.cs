using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Xunit;

namespace NxMesh.Acme.Tests;

public sealed class CsrAndProblemTests
{
    [Fact]
    public void Csr_names_every_domain_as_a_san_and_is_signed_by_the_certificate_key()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var der = AcmeCsr.Create(["www.example.test", "example.test"], key);

        // The load verifies the CSR's self-signature.
        var request = CertificateRequest.LoadSigningRequest(der, HashAlgorithmName.SHA256, CertificateRequestLoadOptions.UnsafeLoadCertificateExtensions);
        Assert.Equal("CN=www.example.test", request.SubjectName.Name);
        var san = new X509SubjectAlternativeNameExtension(Assert.Single(request.CertificateExtensions, e => e.Oid?.Value == "2.5.29.17").RawData);
        Assert.Equal(["www.example.test", "example.test"], san.EnumerateDnsNames());
        Assert.Equal(key.ExportSubjectPublicKeyInfo(), request.PublicKey.ExportSubjectPublicKeyInfo());
    }

    [Fact]
    public void Csr_needs_a_domain() =>
        Assert.Throws<ArgumentException>(() => AcmeCsr.Create([], ECDsa.Create(ECCurve.NamedCurves.nistP256)));

    [Fact]
    public void Problem_document_reads_as_type_and_detail_with_subproblems()
    {
        var problem = AcmeProblem.TryParse("""
            {"type":"urn:ietf:params:acme:error:rejectedIdentifier","detail":"Some identifiers were rejected","status":400,
             "subproblems":[{"type":"urn:ietf:params:acme:error:malformed","detail":"Invalid underscore in DNS name","identifier":{"type":"dns","value":"_bad.example"}}]}
            """);
        Assert.NotNull(problem);
        Assert.Equal("rejectedIdentifier", problem.ShortType);
        Assert.Equal(400, problem.Status);
        Assert.Equal("rejectedIdentifier: Some identifiers were rejected (_bad.example: malformed: Invalid underscore in DNS name)", problem.ToString());
    }

    [Theory]
    [InlineData("")]
    [InlineData("not json")]
    [InlineData("""{"detail":"no type"}""")]
    [InlineData("[1]")]
    public void Non_problem_bodies_are_not_problems(string body) => Assert.Null(AcmeProblem.TryParse(body));

    [Fact]
    public void Foreign_problem_types_keep_their_full_type() =>
        Assert.Equal("about:blank: oops", AcmeProblem.TryParse("""{"type":"about:blank","detail":"oops"}""")!.ToString());
}
