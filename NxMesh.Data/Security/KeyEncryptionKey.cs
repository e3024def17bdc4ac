using System.Security.Cryptography;
using System.Text;
using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection.XmlEncryption;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace NxMesh.Data.Security;

/// <summary>
/// The key-encryption key (KEK) from configuration that wraps every Data Protection key stored in Postgres,
/// so a database dump alone reveals no usable key.
/// </summary>
public sealed class KeyEncryptionKeyOptions
{
    public const string ConfigurationKey = "DataProtection:KeyEncryptionKey";

    /// <summary>Base64 of 32 random bytes.</summary>
    public string? KeyEncryptionKey { get; set; }

    internal byte[] GetKey()
    {
        if (string.IsNullOrWhiteSpace(KeyEncryptionKey))
        {
            throw new InvalidOperationException($"Configuration '{ConfigurationKey}' is required (base64 of 32 random bytes).");
        }
        byte[] key;
        try
        {
            key = Convert.FromBase64String(KeyEncryptionKey);
        }
        catch (FormatException)
        {
            throw new InvalidOperationException($"Configuration '{ConfigurationKey}' is not base64.");
        }
        return key.Length == 32
            ? key
            : throw new InvalidOperationException($"Configuration '{ConfigurationKey}' must decode to 32 bytes, not {key.Length}.");
    }

    internal static string KeyId(byte[] key) => Convert.ToHexStringLower(SHA256.HashData(key).AsSpan(0, 8));
}

/// <summary>AES-256-GCM wrapping of a key element; the KEK id is kept so a wrong KEK fails with a clear message.</summary>
public sealed class KeyEncryptionKeyXmlEncryptor(byte[] kek) : IXmlEncryptor
{
    internal static readonly XName Element = "nxmeshEncryptedKey";

    public EncryptedXmlInfo Encrypt(XElement plaintextElement)
    {
        var plaintext = Encoding.UTF8.GetBytes(plaintextElement.ToString(SaveOptions.DisableFormatting));
        var nonce = RandomNumberGenerator.GetBytes(AesGcm.NonceByteSizes.MaxSize);
        var ciphertext = new byte[plaintext.Length];
        var tag = new byte[AesGcm.TagByteSizes.MaxSize];
        using (var aes = new AesGcm(kek, tag.Length))
        {
            aes.Encrypt(nonce, plaintext, ciphertext, tag);
        }
        CryptographicOperations.ZeroMemory(plaintext);
        var element = new XElement(Element,
            new XAttribute("kek", KeyEncryptionKeyOptions.KeyId(kek)),
            new XElement("nonce", Convert.ToBase64String(nonce)),
            new XElement("tag", Convert.ToBase64String(tag)),
            new XElement("value", Convert.ToBase64String(ciphertext)));
        return new EncryptedXmlInfo(element, typeof(KeyEncryptionKeyXmlDecryptor));
    }
}

/// <summary>Created by Data Protection through the service provider when it reads the key ring.</summary>
public sealed class KeyEncryptionKeyXmlDecryptor(IServiceProvider services) : IXmlDecryptor
{
    public XElement Decrypt(XElement encryptedElement)
    {
        var kek = services.GetRequiredService<IOptions<KeyEncryptionKeyOptions>>().Value.GetKey();
        var expectedId = (string?)encryptedElement.Attribute("kek");
        if (expectedId != KeyEncryptionKeyOptions.KeyId(kek))
        {
            throw new CryptographicException($"The key ring was wrapped with key-encryption key {expectedId}; the configured one is {KeyEncryptionKeyOptions.KeyId(kek)}.");
        }
        var nonce = Convert.FromBase64String((string)encryptedElement.Element("nonce")!);
        var tag = Convert.FromBase64String((string)encryptedElement.Element("tag")!);
        var ciphertext = Convert.FromBase64String((string)encryptedElement.Element("value")!);
        var plaintext = new byte[ciphertext.Length];
        using (var aes = new AesGcm(kek, tag.Length))
        {
            aes.Decrypt(nonce, ciphertext, tag, plaintext);
        }
        return XElement.Parse(Encoding.UTF8.GetString(plaintext));
    }
}
