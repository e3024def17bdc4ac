using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using NxMesh.Api.Platform;
using NxMesh.Data;
using NxMesh.Data.DesiredConfig;
using NxMesh.Data.Entities;
using NxMesh.Nginx.Validation;

namespace NxMesh.Api.Certificates;

/// <summary>The spec's certificate; PEMs are never part of it (the private key is never returned at all).</summary>
public sealed record CertificateResponse(
    Guid Id, Guid WorkspaceId, string Domain, bool IsWildcard, CertificateProvider Provider, CertificateStatus Status,
    DateTimeOffset? IssuedAt, DateTimeOffset? ExpiresAt, bool AutoRenew, DateTimeOffset CreatedAt)
{
    public static CertificateResponse From(Certificate c) =>
        new(c.Id, c.WorkspaceId, c.Domain, c.IsWildcard, c.Provider, c.Status, c.IssuedAt, c.ExpiresAt, c.AutoRenew, c.CreatedAt);
}

/// <summary>
/// <c>GET /certificates/{id}</c>: the spec's certificate plus what its PEM says (issuer, not_before, SANs, SHA-256
/// fingerprint of the leaf; null until issued) and the issuance state (last_error, failed_attempts, next_attempt_at).
/// </summary>
public sealed record CertificateDetailResponse(
    Guid Id, Guid WorkspaceId, string Domain, bool IsWildcard, CertificateProvider Provider, CertificateStatus Status,
    DateTimeOffset? IssuedAt, DateTimeOffset? ExpiresAt, bool AutoRenew, DateTimeOffset CreatedAt,
    string? Issuer, DateTimeOffset? NotBefore, IReadOnlyList<string> Sans, string? FingerprintSha256,
    string? LastError, int FailedAttempts, DateTimeOffset? NextAttemptAt)
{
    public static CertificateDetailResponse From(Certificate c)
    {
        string? issuer = null;
        string? fingerprint = null;
        DateTimeOffset? notBefore = null;
        var sans = new List<string>();
        if (c.CertificatePem is { } pem)
        {
            using var leaf = X509Certificate2.CreateFromPem(pem);
            issuer = leaf.Issuer;
            notBefore = new DateTimeOffset(leaf.NotBefore.ToUniversalTime(), TimeSpan.Zero);
            fingerprint = Convert.ToHexStringLower(SHA256.HashData(leaf.RawData));
            foreach (var extension in leaf.Extensions.Where(e => e.Oid?.Value == "2.5.29.17"))
            {
                sans.AddRange(new X509SubjectAlternativeNameExtension(extension.RawData).EnumerateDnsNames());
            }
        }
        return new(c.Id, c.WorkspaceId, c.Domain, c.IsWildcard, c.Provider, c.Status, c.IssuedAt, c.ExpiresAt, c.AutoRenew, c.CreatedAt,
            issuer, notBefore, sans, fingerprint, c.LastError, c.FailedAttempts, c.NextAttemptAt);
    }
}

/// <summary>
/// <c>letsencrypt</c>: stored <c>pending</c> (issued by the certificates job; no wildcard, HTTP-01 cannot prove it).
/// <c>self_signed</c>: issued at once. <c>custom</c>: <c>certificate_pem</c> + <c>private_key_pem</c>, checked to parse,
/// match and cover <c>domain</c>. <c>auto_renew</c> defaults to true, except for custom certificates (nothing to renew them with).
/// </summary>
public sealed record CreateCertificateRequest(string? Domain, CertificateProvider? Provider, bool? AutoRenew, string? CertificatePem, string? PrivateKeyPem);

public static class CertificatesApi
{
    public const string ResourceType = "certificate";

    public const int MaxPemLength = 64 * 1024;
    public static readonly TimeSpan SelfSignedValidity = TimeSpan.FromDays(365);

    public static IEndpointRouteBuilder MapCertificatesApi(this IEndpointRouteBuilder routes)
    {
        var byWorkspace = routes.MapGroup("/workspaces/{workspace_id:guid}").WithTags("Certificates");
        byWorkspace.MapGet("/certificates", ListAsync).WithName("ListCertificates").WithSummary("Certificates of a workspace (viewer); private keys are never returned");
        byWorkspace.MapPost("/certificates", CreateAsync).WithName("RequestCertificate")
            .WithSummary("Request (letsencrypt → pending), issue (self_signed) or upload (custom: certificate_pem + private_key_pem) a certificate (editor)");

        var byId = routes.MapGroup("/certificates").WithTags("Certificates");
        byId.MapGet("/{certificate_id:guid}", GetAsync).WithName("GetCertificate").WithSummary("Get a certificate (viewer)");
        byId.MapPost("/{certificate_id:guid}/renew", RenewAsync).WithName("RenewCertificate")
            .WithSummary("Force a renewal (editor): letsencrypt → 202, the Worker's certificates job renews it on its next run (status renewing, or pending if never issued); self_signed → 200, re-issued at once; custom → 409");
        byId.MapDelete("/{certificate_id:guid}", DeleteAsync).WithName("DeleteCertificate").WithSummary("Delete a certificate (editor); 409 while a virtual host uses it");
        return routes;
    }

    private static async Task<Ok<Paged<CertificateResponse>>> ListAsync([FromRoute(Name = "workspace_id")] Guid workspaceId, [AsParameters] PageQuery page,
        NxMeshDbContext db, TenantAccess access, CancellationToken cancellationToken)
    {
        var paging = page.Resolve();
        await access.WorkspaceAsync(workspaceId, OrganizationRole.Viewer, cancellationToken);
        var query = db.Certificates.AsNoTracking().Where(c => c.WorkspaceId == workspaceId).OrderBy(c => c.CreatedAt).ThenBy(c => c.Id);
        return TypedResults.Ok(await query.ToPagedAsync(paging, CertificateResponse.From, cancellationToken));
    }

    private static async Task<Created<CertificateResponse>> CreateAsync([FromRoute(Name = "workspace_id")] Guid workspaceId, CreateCertificateRequest request,
        NxMeshDbContext db, TenantAccess access, AuditTrail audit, IDataProtectionProvider dataProtection, TimeProvider time, CancellationToken cancellationToken)
    {
        var (_, scope) = await access.WorkspaceAsync(workspaceId, OrganizationRole.Editor, cancellationToken);
        var certificate = Issue(request, dataProtection.CreateProtector(CertificateKeyProtection.Purpose), time.GetUtcNow());
        certificate.WorkspaceId = workspaceId;
        certificate.CreatedAt = time.GetUtcNow();
        db.Certificates.Add(certificate);
        var after = CertificateResponse.From(certificate);
        audit.Record(scope.OrganizationId, workspaceId, "create", ResourceType, certificate.Id, null, after);
        audit.ConfigChanged(workspaceId, ResourceType, certificate.Id, "create");
        await db.SaveChangesAsync(cancellationToken);
        return TypedResults.Created($"/v1/certificates/{certificate.Id}", after);
    }

    private static async Task<Ok<CertificateDetailResponse>> GetAsync([FromRoute(Name = "certificate_id")] Guid certificateId, NxMeshDbContext db, TenantAccess access, CancellationToken cancellationToken)
    {
        var (certificate, _, _) = await access.WorkspaceResourceAsync(db.Certificates.AsNoTracking(), certificateId, c => c.WorkspaceId, OrganizationRole.Viewer, "Certificate", cancellationToken);
        return TypedResults.Ok(CertificateDetailResponse.From(certificate));
    }

    private static async Task<Results<Accepted<CertificateDetailResponse>, Ok<CertificateDetailResponse>>> RenewAsync([FromRoute(Name = "certificate_id")] Guid certificateId,
        NxMeshDbContext db, TenantAccess access, AuditTrail audit, IDataProtectionProvider dataProtection, TimeProvider time, CancellationToken cancellationToken)
    {
        var (certificate, workspaceId, scope) = await access.WorkspaceResourceAsync(db.Certificates, certificateId, c => c.WorkspaceId, OrganizationRole.Editor, "Certificate", cancellationToken);
        var before = CertificateResponse.From(certificate);
        var now = time.GetUtcNow();
        switch (certificate.Provider)
        {
            case CertificateProvider.Custom:
                throw ApiException.Conflict("A custom certificate cannot be renewed by NxMesh; upload a new one.", []);
            case CertificateProvider.SelfSigned:
                var (pem, key, notBefore, notAfter) = SelfSigned(certificate.Domain, now);
                Activate(certificate, pem, dataProtection.CreateProtector(CertificateKeyProtection.Purpose).Protect(key), notBefore, notAfter);
                audit.ConfigChanged(workspaceId, ResourceType, certificateId, "renew");
                break;
            default:
                // The Worker's certificates job picks it up on its next run; the current certificate keeps being served.
                certificate.Status = certificate.CertificatePem is null ? CertificateStatus.Pending : CertificateStatus.Renewing;
                certificate.NextAttemptAt = null;
                certificate.FailedAttempts = 0;
                break;
        }
        audit.Record(scope.OrganizationId, workspaceId, "renew", ResourceType, certificateId, before, CertificateResponse.From(certificate));
        await db.SaveChangesAsync(cancellationToken);
        var answer = CertificateDetailResponse.From(certificate);
        return certificate.Provider == CertificateProvider.SelfSigned ? TypedResults.Ok(answer) : TypedResults.Accepted($"/v1/certificates/{certificateId}", answer);
    }

    private static async Task<NoContent> DeleteAsync([FromRoute(Name = "certificate_id")] Guid certificateId, NxMeshDbContext db, TenantAccess access, AuditTrail audit, CancellationToken cancellationToken)
    {
        var (certificate, workspaceId, scope) = await access.WorkspaceResourceAsync(db.Certificates, certificateId, c => c.WorkspaceId, OrganizationRole.Editor, "Certificate", cancellationToken);
        await EnsureUnreferencedAsync(db, certificateId, cancellationToken);
        audit.Record(scope.OrganizationId, workspaceId, "delete", ResourceType, certificateId, CertificateResponse.From(certificate), null);
        audit.ConfigChanged(workspaceId, ResourceType, certificateId, "delete");
        db.Certificates.Remove(certificate);
        await db.SaveDeletionAsync(() => EnsureUnreferencedAsync(db, certificateId, cancellationToken), "The certificate is used by a virtual host", cancellationToken);
        return TypedResults.NoContent();
    }

    private static async Task EnsureUnreferencedAsync(NxMeshDbContext db, Guid certificateId, CancellationToken cancellationToken)
    {
        var referrers = await db.VirtualHosts.AsNoTracking().IgnoreAutoIncludes().Where(v => v.SslCertificateId == certificateId)
            .OrderBy(v => v.Name).Select(v => new { v.Id, v.Name }).ToListAsync(cancellationToken);
        if (referrers.Count > 0)
        {
            throw ApiException.Conflict(
                "The certificate is used by virtual hosts: " + string.Join(", ", referrers.Select(r => $"'{r.Name}' ({r.Id})")),
                referrers.Select(r => new ErrorDetail("virtual_hosts", $"used by virtual host '{r.Name}' ({r.Id})", ValidationCodes.Conflict)).ToList());
        }
    }

    /// <summary>
    /// Validates the request and builds the certificate (issued at once for self_signed); 422 on any problem. Private
    /// keys are protected under <see cref="CertificateKeyProtection.Purpose"/>, which AgentHub decrypts at push time.
    /// </summary>
    private static Certificate Issue(CreateCertificateRequest request, IDataProtector protector, DateTimeOffset now)
    {
        var v = new Validator();
        var domain = request.Domain?.ToLowerInvariant();
        DomainProblems(v, domain);
        if (request.Provider is null)
        {
            v.Add("provider", ValidationCodes.Required, "provider is one of letsencrypt, self_signed, custom");
            v.ThrowIfInvalid();
        }
        var provider = request.Provider.GetValueOrDefault();
        var wildcard = domain?.StartsWith("*.", StringComparison.Ordinal) ?? false;
        if (provider == CertificateProvider.Letsencrypt && wildcard)
        {
            v.Add("domain", ValidationCodes.NotAllowed, "Let's Encrypt issues wildcard certificates only through DNS-01; NxMesh uses HTTP-01");
        }
        if (provider == CertificateProvider.Custom)
        {
            if (request.AutoRenew == true)
            {
                v.Add("auto_renew", ValidationCodes.NotAllowed, "a custom certificate cannot be renewed by NxMesh");
            }
        }
        else
        {
            if (request.CertificatePem is not null)
            {
                v.Add("certificate_pem", ValidationCodes.NotAllowed, "certificate_pem goes with provider custom");
            }
            if (request.PrivateKeyPem is not null)
            {
                v.Add("private_key_pem", ValidationCodes.NotAllowed, "private_key_pem goes with provider custom");
            }
        }
        v.ThrowIfInvalid();
        var certificate = new Certificate
        {
            Domain = domain!,
            IsWildcard = wildcard,
            Provider = provider,
            AutoRenew = request.AutoRenew ?? provider != CertificateProvider.Custom,
        };
        switch (provider)
        {
            case CertificateProvider.Letsencrypt:
                certificate.Status = CertificateStatus.Pending;
                break;
            case CertificateProvider.SelfSigned:
                var (pem, key, notBefore, notAfter) = SelfSigned(certificate.Domain, now);
                Activate(certificate, pem, protector.Protect(key), notBefore, notAfter);
                break;
            case CertificateProvider.Custom:
                var (issuedAt, expiresAt) = CheckCustom(v, request.CertificatePem, request.PrivateKeyPem, certificate.Domain, now);
                v.ThrowIfInvalid();
                Activate(certificate, request.CertificatePem!, protector.Protect(request.PrivateKeyPem!), issuedAt, expiresAt);
                break;
        }
        return certificate;
    }

    private static void Activate(Certificate certificate, string pem, string protectedKey, DateTimeOffset issuedAt, DateTimeOffset expiresAt)
    {
        certificate.Status = CertificateStatus.Active;
        certificate.CertificatePem = pem;
        certificate.PrivateKeyProtected = protectedKey;
        certificate.IssuedAt = issuedAt;
        certificate.ExpiresAt = expiresAt;
    }

    /// <summary>A hostname or <c>*.</c> + hostname (one name; the nginx library's server name rules).</summary>
    private static void DomainProblems(Validator v, string? domain)
    {
        if (string.IsNullOrEmpty(domain))
        {
            v.Add("domain", ValidationCodes.Required, "domain is required");
            return;
        }
        var issues = NginxValidation.ServerName(domain, "domain");
        if (issues.Count > 0)
        {
            v.Add(issues);
        }
        else if (domain.Contains(' ', StringComparison.Ordinal) || domain.EndsWith(".*", StringComparison.Ordinal) || !domain.Contains('.', StringComparison.Ordinal)
            || domain.Length > 253 || System.Net.IPAddress.TryParse(domain, out _))
        {
            v.Add("domain", ValidationCodes.InvalidFormat, "domain is one hostname with a dot, or '*.' and a hostname");
        }
    }

    /// <summary>ECDSA P-256, SAN = the domain, valid from a minute ago for <see cref="SelfSignedValidity"/>.</summary>
    private static (string Pem, string Key, DateTimeOffset NotBefore, DateTimeOffset NotAfter) SelfSigned(string domain, DateTimeOffset now)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName("CN=" + domain.Replace("*", "wildcard", StringComparison.Ordinal)), key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName(domain);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        var notBefore = TruncateToSeconds(now.AddMinutes(-1));
        var notAfter = TruncateToSeconds(now.Add(SelfSignedValidity));
        using var certificate = request.CreateSelfSigned(notBefore, notAfter);
        return (certificate.ExportCertificatePem(), key.ExportPkcs8PrivateKeyPem(), notBefore, notAfter);
    }

    /// <summary>Parses the PEMs, checks the key matches, the domain is covered and the certificate is within its validity.</summary>
    private static (DateTimeOffset IssuedAt, DateTimeOffset ExpiresAt) CheckCustom(Validator v, string? certificatePem, string? privateKeyPem, string domain, DateTimeOffset now)
    {
        var present = PemPresent(v, "certificate_pem", certificatePem) & PemPresent(v, "private_key_pem", privateKeyPem);
        if (!present)
        {
            return default;
        }
        X509Certificate2 parsed;
        try
        {
            parsed = X509Certificate2.CreateFromPem(certificatePem);
        }
        catch (Exception ex) when (ex is CryptographicException or ArgumentException)
        {
            v.Add("certificate_pem", ValidationCodes.InvalidFormat, "certificate_pem is not a PEM certificate");
            return default;
        }
        using (parsed)
        {
            try
            {
                using var withKey = X509Certificate2.CreateFromPem(certificatePem, privateKeyPem);
            }
            catch (Exception ex) when (ex is CryptographicException or ArgumentException)
            {
                v.Add("private_key_pem", ValidationCodes.InvalidFormat, "private_key_pem is not an unencrypted PEM private key matching the certificate");
            }
            var covered = domain.StartsWith("*.", StringComparison.Ordinal)
                ? DnsNames(parsed).Contains(domain, StringComparer.OrdinalIgnoreCase)
                : parsed.MatchesHostname(domain);
            if (!covered)
            {
                v.Add("domain", ValidationCodes.InvalidFormat, $"the certificate does not cover {domain}");
            }
            var notAfter = new DateTimeOffset(parsed.NotAfter.ToUniversalTime(), TimeSpan.Zero);
            if (notAfter <= now)
            {
                v.Add("certificate_pem", ValidationCodes.OutOfRange, "the certificate has expired");
            }
            return (new DateTimeOffset(parsed.NotBefore.ToUniversalTime(), TimeSpan.Zero), notAfter);
        }
    }

    private static bool PemPresent(Validator v, string field, string? pem)
    {
        if (string.IsNullOrWhiteSpace(pem))
        {
            v.Add(field, ValidationCodes.Required, $"{field} is required for provider custom");
            return false;
        }
        if (pem.Length > MaxPemLength)
        {
            v.Add(field, ValidationCodes.OutOfRange, $"at most {MaxPemLength} characters");
            return false;
        }
        if (pem.Contains('\0', StringComparison.Ordinal))
        {
            v.Add(field, ValidationCodes.InvalidFormat, "NUL is not allowed");
            return false;
        }
        return true;
    }

    private static IEnumerable<string> DnsNames(X509Certificate2 certificate) =>
        certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>().SelectMany(e => e.EnumerateDnsNames());

    private static DateTimeOffset TruncateToSeconds(DateTimeOffset value) => value.AddTicks(-(value.Ticks % TimeSpan.TicksPerSecond));
}
