using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using NxMesh.Data.Security;

namespace NxMesh.Data;

public static class DataServiceCollectionExtensions
{
    /// <summary>The application name every service shares, so all of them read one key ring.</summary>
    public const string DataProtectionApplicationName = "NxMesh";

    /// <summary>
    /// Data Protection with its key ring in Postgres (table data_protection_keys), each key wrapped by the KEK
    /// from configuration. Requires <see cref="NxMeshDbContext"/> to be registered.
    /// </summary>
    public static IServiceCollection AddNxMeshDataProtection(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<KeyEncryptionKeyOptions>()
            .Bind(configuration.GetSection("DataProtection"))
            .Validate(o => { o.GetKey(); return true; })
            .ValidateOnStart();
        services.AddDataProtection()
            .SetApplicationName(DataProtectionApplicationName)
            .PersistKeysToDbContext<NxMeshDbContext>();
        services.AddSingleton<IConfigureOptions<KeyManagementOptions>>(sp =>
            new ConfigureOptions<KeyManagementOptions>(o =>
                o.XmlEncryptor = new KeyEncryptionKeyXmlEncryptor(sp.GetRequiredService<IOptions<KeyEncryptionKeyOptions>>().Value.GetKey())));
        return services;
    }
}
