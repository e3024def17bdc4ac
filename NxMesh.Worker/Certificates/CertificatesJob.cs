using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using NxMesh.Data;
using NxMesh.Data.DesiredConfig;
using NxMesh.Data.Entities;
using NxMesh.Data.Messaging;
using Quartz;

namespace NxMesh.Worker.Certificates;

/// <summary>
/// Issues pending Let's Encrypt certificates, renews auto_renew ones <c>RenewBeforeDays</c> before expiry (and any
/// forced through <c>POST /certificates/{id}/renew</c>), retries failures with exponential backoff and marks lapsed
/// certificates expired. Statuses: pending → active → renewing → active, or failed / expired. A failed renewal keeps
/// the previous certificate (still served). Publishes <c>certificate.issued</c>, <c>certificate.renewed</c>,
/// <c>certificate.failed</c>. One run at a time across the cluster.
/// </summary>
[DisallowConcurrentExecution]
internal sealed class CertificatesJob(NxMeshDbContext db, AcmeIssuer issuer, IDataProtectionProvider dataProtection, FleetEventPublisher events,
    IOptions<CertificatesOptions> options, TimeProvider time, ILogger<CertificatesJob> logger) : IJob
{
    public static readonly JobKey Key = new("certificates", "certificates");
    public static readonly TimeSpan SelfSignedValidity = TimeSpan.FromDays(365);

    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        await MarkExpiredAsync(now, cancellationToken);
        var renewBefore = now.AddDays(options.Value.RenewBeforeDays);
        var due = await db.Certificates.AsNoTracking()
            .Where(c => c.Provider != CertificateProvider.Custom)
            .Where(c => (c.NextAttemptAt == null || c.NextAttemptAt <= now) && (
                (c.Provider == CertificateProvider.Letsencrypt && (c.Status == CertificateStatus.Pending || c.Status == CertificateStatus.Renewing || c.Status == CertificateStatus.Failed))
                || (c.AutoRenew && c.Status == CertificateStatus.Active && c.ExpiresAt <= renewBefore)
                || (c.AutoRenew && c.Status == CertificateStatus.Expired)))
            .OrderBy(c => c.NextAttemptAt).ThenBy(c => c.CreatedAt)
            .Select(c => c.Id).ToListAsync(cancellationToken);
        foreach (var id in due)
        {
            cancellationToken.ThrowIfCancellationRequested();
            db.ChangeTracker.Clear();
            if (await db.Certificates.FirstOrDefaultAsync(c => c.Id == id, cancellationToken) is { } certificate)
            {
                await ProcessAsync(certificate, cancellationToken);
            }
        }
    }

    private async Task ProcessAsync(Certificate certificate, CancellationToken cancellationToken)
    {
        var renewal = certificate.CertificatePem is not null;
        if (certificate.Status == CertificateStatus.Active)
        {
            certificate.Status = CertificateStatus.Renewing;
            certificate.UpdatedAt = time.GetUtcNow();
            await db.SaveChangesAsync(cancellationToken);
        }
        try
        {
            IssuedCertificate issued;
            if (certificate.Provider == CertificateProvider.SelfSigned)
            {
                issued = SelfSigned(certificate.Domain, time.GetUtcNow());
            }
            else
            {
                await issuer.RemoveChallengesAsync(certificate, cancellationToken);
                issued = await issuer.IssueAsync(certificate, cancellationToken);
            }
            db.ChangeTracker.Clear();
            db.Attach(certificate);
            certificate.CertificatePem = issued.ChainPem;
            certificate.PrivateKeyProtected = CertificateKeyProtection.Protect(dataProtection, issued.PrivateKeyPem);
            certificate.IssuedAt = issued.NotBefore;
            certificate.ExpiresAt = issued.NotAfter;
            certificate.Status = CertificateStatus.Active;
            certificate.LastError = null;
            certificate.FailedAttempts = 0;
            certificate.NextAttemptAt = null;
            certificate.UpdatedAt = time.GetUtcNow();
            ConfigChanged(certificate, renewal ? "renewed" : "issued");
            await db.SaveChangesAsync(cancellationToken);
            logger.LogInformation("Certificate {CertificateId} for {Domain} {Outcome}; expires {ExpiresAt:o}.", certificate.Id, certificate.Domain, renewal ? "renewed" : "issued", issued.NotAfter);
            await PublishAsync(renewal ? "certificate.renewed" : "certificate.issued", certificate, null);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            if (ex is DbUpdateConcurrencyException)
            {
                logger.LogInformation("Certificate {CertificateId} changed or was deleted while being issued.", certificate.Id);
                return;
            }
            await FailAsync(certificate.Id, ex.Message, cancellationToken);
        }
    }

    private async Task FailAsync(Guid certificateId, string error, CancellationToken cancellationToken)
    {
        db.ChangeTracker.Clear();
        if (await db.Certificates.FirstOrDefaultAsync(c => c.Id == certificateId, cancellationToken) is not { } certificate)
        {
            return;
        }
        certificate.FailedAttempts++;
        certificate.LastError = error.Length > 2000 ? error[..2000] : error;
        certificate.NextAttemptAt = time.GetUtcNow() + options.Value.RetryDelay(certificate.FailedAttempts);
        if (certificate.Status != CertificateStatus.Expired)
        {
            certificate.Status = CertificateStatus.Failed;
        }
        certificate.UpdatedAt = time.GetUtcNow();
        await db.SaveChangesAsync(cancellationToken);
        logger.LogWarning("Certificate {CertificateId} for {Domain} failed (attempt {Attempt}, next at {NextAttemptAt:o}): {Error}",
            certificate.Id, certificate.Domain, certificate.FailedAttempts, certificate.NextAttemptAt, certificate.LastError);
        await PublishAsync("certificate.failed", certificate, certificate.LastError);
    }

    /// <summary>Certificates past their expiry that were not renewed in time; their virtual hosts then wait for a new one.</summary>
    private async Task MarkExpiredAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        var lapsed = await db.Certificates
            .Where(c => c.ExpiresAt <= now && c.Status != CertificateStatus.Expired && c.Status != CertificateStatus.Pending).ToListAsync(cancellationToken);
        foreach (var certificate in lapsed)
        {
            certificate.Status = CertificateStatus.Expired;
            certificate.UpdatedAt = now;
            ConfigChanged(certificate, "expired");
        }
        if (lapsed.Count > 0)
        {
            await db.SaveChangesAsync(cancellationToken);
        }
    }

    private Task PublishAsync(string type, Certificate certificate, string? error)
    {
        var data = new JsonObject
        {
            ["certificate_id"] = certificate.Id.ToString("D"),
            ["domain"] = certificate.Domain,
            ["provider"] = certificate.Provider == CertificateProvider.SelfSigned ? "self_signed" : "letsencrypt",
            ["status"] = JsonNamingPolicy.SnakeCaseLower.ConvertName(certificate.Status.ToString()),
            ["expires_at"] = certificate.ExpiresAt?.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture),
        };
        if (error is not null)
        {
            data["error"] = error;
            data["failed_attempts"] = certificate.FailedAttempts;
        }
        return events.PublishAsync(type, certificate.WorkspaceId, data);
    }

    private void ConfigChanged(Certificate certificate, string action) =>
        db.Outbox.Add(OutboxMessages.ConfigChanged(certificate.WorkspaceId, "certificate", certificate.Id, action, time.GetUtcNow()));

    /// <summary>ECDSA P-256, SAN = the domain, valid from a minute ago for a year (as the Api issues them).</summary>
    private static IssuedCertificate SelfSigned(string domain, DateTimeOffset now)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var subject = new X500DistinguishedNameBuilder();
        subject.AddCommonName(domain.Replace("*", "wildcard", StringComparison.Ordinal));
        var request = new CertificateRequest(subject.Build(), key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName(domain);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        var notBefore = now.AddMinutes(-1).AddTicks(-(now.Ticks % TimeSpan.TicksPerSecond));
        var notAfter = notBefore.Add(SelfSignedValidity);
        using var certificate = request.CreateSelfSigned(notBefore, notAfter);
        return new IssuedCertificate(certificate.ExportCertificatePem(), key.ExportPkcs8PrivateKeyPem(), notBefore, notAfter);
    }
}
