using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.DependencyInjection.Extensions;
using NxMesh.Data.Messaging;
using Quartz;

namespace NxMesh.Worker.Certificates;

internal static class CertificatesExtensions
{
    public static void AddCertificates(this IHostApplicationBuilder builder)
    {
        var section = builder.Configuration.GetSection(CertificatesOptions.Section);
        builder.Services.AddOptions<CertificatesOptions>().Bind(section);
        var settings = section.Get<CertificatesOptions>() ?? new CertificatesOptions();
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.TryAddSingleton<FleetEventPublisher>();
        builder.Services.AddScoped<AcmeIssuer>();
        builder.Services.AddHttpClient(AcmeIssuer.HttpClientName, http => http.Timeout = TimeSpan.FromSeconds(30))
            .ConfigurePrimaryHttpMessageHandler(() => AcmeHandler(settings.AcmeRootCertificatePath));
        builder.Services.AddQuartz(q => q.ScheduleJob<CertificatesJob>(
            trigger => trigger
                .WithIdentity("certificates", "certificates")
                .StartNow()
                .WithSimpleSchedule(s => s.WithInterval(TimeSpan.FromSeconds(settings.CheckIntervalSeconds)).RepeatForever()
                    .WithMisfireInstruction(SimpleTriggerMisfireInstruction.NextWithRemainingCount)),
            job => job.WithIdentity(CertificatesJob.Key)));
    }

    /// <summary>
    /// The ACME server's TLS is always verified: against the system roots, or, when a root file is configured (a
    /// private ACME server), against that root only (custom root trust; host names are still checked).
    /// </summary>
    private static SocketsHttpHandler AcmeHandler(string? rootCertificatePath)
    {
        var handler = new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) };
        if (!string.IsNullOrEmpty(rootCertificatePath))
        {
            var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
            policy.CustomTrustStore.AddRange(LoadPem(rootCertificatePath));
            handler.SslOptions.CertificateChainPolicy = policy;
        }
        return handler;
    }

    private static X509Certificate2Collection LoadPem(string path)
    {
        var collection = new X509Certificate2Collection();
        collection.ImportFromPemFile(path);
        return collection;
    }
}
