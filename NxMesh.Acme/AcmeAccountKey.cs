using System.Security.Cryptography;

namespace NxMesh.Acme;

/// <summary>ES256 account keys: created once per ACME directory and persisted (by the caller, protected) as PKCS#8 PEM.</summary>
public static class AcmeAccountKey
{
    public static ECDsa Create() => ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public static string ExportPem(ECDsa key) => key.ExportPkcs8PrivateKeyPem();

    public static ECDsa ImportPem(string pem)
    {
        var key = ECDsa.Create();
        key.ImportFromPem(pem);
        return key;
    }
}
