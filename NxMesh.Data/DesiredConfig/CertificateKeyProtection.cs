using Microsoft.AspNetCore.DataProtection;

namespace NxMesh.Data.DesiredConfig;

/// <summary>The Data Protection purpose under which <c>Certificate.PrivateKeyProtected</c> is stored.</summary>
public static class CertificateKeyProtection
{
    public const string Purpose = "NxMesh.Certificates.PrivateKey.v1";

    public static string Protect(IDataProtectionProvider provider, string privateKeyPem) =>
        provider.CreateProtector(Purpose).Protect(privateKeyPem);

    public static string Unprotect(IDataProtectionProvider provider, string protectedKey) =>
        provider.CreateProtector(Purpose).Unprotect(protectedKey);
}
