using System.Security.Cryptography;
using System.Text;

namespace NxMesh.Data.Security;

/// <summary>Opaque secrets (registration tokens, agent credentials, refresh tokens): 256 random bits, stored as SHA-256.</summary>
public static class Secrets
{
    public const string RegistrationTokenPrefix = "nxmesh_agent_";

    public static string NewSecret(string prefix = "") =>
        prefix + Base64Url(RandomNumberGenerator.GetBytes(32));

    public static byte[] Hash(string secret) => SHA256.HashData(Encoding.UTF8.GetBytes(secret));

    private static string Base64Url(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
