using System.Security.Cryptography;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using NxMesh.Testing;
using Xunit;

namespace NxMesh.Data.Tests;

[Collection(DatabaseCollection.Name)]
public sealed class DataProtectionTests(DatabaseFixture database)
{
    [Fact]
    public async Task Key_ring_lives_in_postgres_wrapped_by_the_key_encryption_key()
    {
        await database.ResetAsync();
        var kek = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        const string secret = "-----BEGIN PRIVATE KEY----- not really";

        string protectedValue;
        await using (var services = BuildServices(kek))
        {
            protectedValue = services.GetRequiredService<IDataProtectionProvider>().CreateProtector("certificates").Protect(secret);
        }

        await using (var db = database.CreateDbContext())
        {
            var key = Assert.Single(await db.DataProtectionKeys.ToListAsync());
            Assert.Contains("nxmeshEncryptedKey", key.Xml, StringComparison.Ordinal);
            Assert.DoesNotContain("<masterKey", key.Xml, StringComparison.Ordinal);
        }

        // Another service instance with the same KEK reads the same key ring.
        await using (var other = BuildServices(kek))
        {
            Assert.Equal(secret, other.GetRequiredService<IDataProtectionProvider>().CreateProtector("certificates").Unprotect(protectedValue));
        }

        // A database dump without the KEK reveals no usable key.
        await using var wrongKek = BuildServices(Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)));
        Assert.ThrowsAny<CryptographicException>(() =>
            wrongKek.GetRequiredService<IDataProtectionProvider>().CreateProtector("certificates").Unprotect(protectedValue));
    }

    [Fact]
    public void A_missing_or_malformed_key_encryption_key_stops_the_service()
    {
        using var services = BuildServices("not-base64-32-bytes");
        var error = Assert.ThrowsAny<Exception>(() =>
            services.GetRequiredService<IDataProtectionProvider>().CreateProtector("x").Protect("y"));
        Assert.Contains("DataProtection:KeyEncryptionKey", error.ToString(), StringComparison.Ordinal);
    }

    private ServiceProvider BuildServices(string kek)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["DataProtection:KeyEncryptionKey"] = kek })
            .Build();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddDbContext<NxMeshDbContext>(o => o.UseNpgsql(database.ConnectionString));
        services.AddNxMeshDataProtection(configuration);
        return services.BuildServiceProvider();
    }
}
