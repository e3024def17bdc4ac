using Microsoft.Extensions.Configuration;

namespace NxMesh.AppHost;

public static class CertificateSettings
{
    /// <summary>
    /// Passes every <c>NxMesh:Certificates:*</c> key to the Worker as <c>Certificates__*</c> (AcmeDirectoryUrl,
    /// AcmeRootCertificatePath, RenewBeforeDays, CheckIntervalSeconds, …): tests point the Worker at Pebble this way.
    /// </summary>
    public static void WithCertificateSettings(this ControlPlane controlPlane, IConfiguration configuration)
    {
        foreach (var setting in configuration.GetSection("NxMesh:Certificates").GetChildren())
        {
            if (setting.Value is { } value)
            {
                controlPlane.Worker.WithEnvironment("Certificates__" + setting.Key, value);
            }
        }
    }
}
