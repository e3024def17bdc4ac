using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using NxMesh.Acme;
using NxMesh.Data;
using NxMesh.Data.DesiredConfig;
using NxMesh.Data.Entities;
using NxMesh.Data.Messaging;

namespace NxMesh.Worker.Certificates;

/// <summary>An issued chain (leaf first) and its private key; the key leaves this type only protected.</summary>
internal sealed record IssuedCertificate(string ChainPem, string PrivateKeyPem, DateTimeOffset NotBefore, DateTimeOffset NotAfter);

/// <summary>
/// Issues one certificate over ACME with HTTP-01 answered by the fleet: the challenges become part of the serving
/// agents' desired config (an outbox message makes AgentHub push it), their SUCCESS is awaited, then the ACME server
/// validates; the challenges are removed afterwards whatever happened.
/// </summary>
internal sealed class AcmeIssuer(NxMeshDbContext db, IDataProtectionProvider dataProtection, IHttpClientFactory httpClients,
    IOptions<CertificatesOptions> options, TimeProvider time, ILogger<AcmeIssuer> logger)
{
    public const string HttpClientName = "acme";
    public const string AccountKeyPurpose = "NxMesh.Acme.AccountKey.v1";
    private static readonly TimeSpan AgentPollInterval = TimeSpan.FromMilliseconds(500);

    public async Task<IssuedCertificate> IssueAsync(Certificate certificate, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var directory = new Uri(settings.AcmeDirectoryUrl);
        var http = httpClients.CreateClient(HttpClientName);
        using var accountKey = await AccountKeyAsync(settings.AcmeDirectoryUrl, cancellationToken);
        var client = new AcmeClient(http, directory, accountKey,
            new AcmePolling(TimeSpan.FromSeconds(settings.PollIntervalSeconds), TimeSpan.FromSeconds(settings.MaxRetryAfterSeconds)), time);
        var accountUrl = await client.EnsureAccountAsync(settings.AcmeContactEmail is { Length: > 0 } email ? [email] : null, cancellationToken);
        await RememberAccountUrlAsync(settings.AcmeDirectoryUrl, accountUrl, cancellationToken);

        var order = await client.NewOrderAsync([certificate.Domain], cancellationToken);
        var pending = new List<(AcmeAuthorization Authorization, AcmeChallenge Challenge)>();
        foreach (var url in order.Authorizations)
        {
            var authorization = await client.GetAuthorizationAsync(url, cancellationToken);
            if (authorization.Status == "valid")
            {
                continue;
            }
            if (authorization.Status != "pending")
            {
                throw new AcmeException($"The authorization of {authorization.Identifier} is {authorization.Status}: {authorization.Error?.ToString() ?? "no reason given"}");
            }
            pending.Add((authorization, authorization.Http01 ?? throw new AcmeException($"The ACME server offers no http-01 challenge for {authorization.Identifier}.")));
        }
        if (pending.Count > 0)
        {
            await ValidateThroughFleetAsync(certificate, client, pending, settings, cancellationToken);
        }

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var valid = await client.FinalizeAsync(order, AcmeCsr.Create([certificate.Domain], key), TimeSpan.FromSeconds(settings.ValidationTimeoutSeconds), cancellationToken);
        var chain = await client.DownloadCertificateAsync(valid, cancellationToken);
        using var leaf = X509Certificate2.CreateFromPem(chain);
        if (!leaf.MatchesHostname(certificate.Domain) || !leaf.GetECDsaPublicKey()!.ExportSubjectPublicKeyInfo().AsSpan().SequenceEqual(key.ExportSubjectPublicKeyInfo()))
        {
            throw new AcmeException($"The ACME server returned a certificate that does not match the request for {certificate.Domain}.");
        }
        return new IssuedCertificate(chain, key.ExportPkcs8PrivateKeyPem(),
            new DateTimeOffset(leaf.NotBefore.ToUniversalTime(), TimeSpan.Zero), new DateTimeOffset(leaf.NotAfter.ToUniversalTime(), TimeSpan.Zero));
    }

    /// <summary>Removes every challenge of a certificate (left by an interrupted run, or after validation) and lets AgentHub push.</summary>
    public async Task RemoveChallengesAsync(Certificate certificate, CancellationToken cancellationToken)
    {
        var stale = await db.AcmeHttpChallenges.Where(c => c.CertificateId == certificate.Id).ToListAsync(cancellationToken);
        if (stale.Count == 0)
        {
            return;
        }
        db.AcmeHttpChallenges.RemoveRange(stale);
        ConfigChanged(certificate, "acme_challenge_removed");
        await db.SaveChangesAsync(cancellationToken);
    }

    private async Task ValidateThroughFleetAsync(Certificate certificate, AcmeClient client, List<(AcmeAuthorization Authorization, AcmeChallenge Challenge)> pending,
        CertificatesOptions settings, CancellationToken cancellationToken)
    {
        var agents = await ServingAgents.FindAsync(db, certificate.WorkspaceId, certificate.Domain, cancellationToken);
        if (agents.Count == 0)
        {
            throw new InvalidOperationException($"No connected agent in the workspace can answer the HTTP-01 challenge for {certificate.Domain}.");
        }
        foreach (var (_, challenge) in pending)
        {
            db.AcmeHttpChallenges.Add(new AcmeHttpChallenge
            {
                WorkspaceId = certificate.WorkspaceId,
                CertificateId = certificate.Id,
                Token = challenge.Token,
                KeyAuthorization = client.KeyAuthorization(challenge.Token),
                AgentIds = agents,
                CreatedAt = time.GetUtcNow(),
            });
        }
        ConfigChanged(certificate, "acme_challenge_added");
        await db.SaveChangesAsync(cancellationToken);
        try
        {
            await WaitForAgentsAsync(certificate, agents, TimeSpan.FromSeconds(settings.ChallengePublishTimeoutSeconds), cancellationToken);
            logger.LogInformation("HTTP-01 challenge for {Domain} served by {AgentCount} agent(s); asking the ACME server to validate.", certificate.Domain, agents.Count);
            foreach (var (authorization, challenge) in pending)
            {
                await client.RespondAsync(challenge, cancellationToken);
                await client.WaitForAuthorizationAsync(authorization.Url, TimeSpan.FromSeconds(settings.ValidationTimeoutSeconds), cancellationToken);
            }
        }
        finally
        {
            db.ChangeTracker.Clear();
            await RemoveChallengesAsync(certificate, CancellationToken.None);
        }
    }

    /// <summary>Until every serving agent reports SUCCESS for a desired config that carries the challenge (bounded).</summary>
    private async Task WaitForAgentsAsync(Certificate certificate, List<Guid> agentIds, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var builder = new DesiredConfigBuilder(db, dataProtection);
        var deadline = time.GetUtcNow() + timeout;
        var waiting = new List<Guid>();
        while (true)
        {
            var source = await builder.LoadWorkspaceAsync(certificate.WorkspaceId, cancellationToken)
                ?? throw new InvalidOperationException("The workspace was deleted.");
            var agents = await db.Agents.AsNoTracking().Where(a => agentIds.Contains(a.Id))
                .Select(a => new { a.Id, a.Labels, a.AppliedConfigId, a.DesiredConfigId, a.LastApplyStatus, a.LastApplyError }).ToListAsync(cancellationToken);
            waiting.Clear();
            foreach (var agent in agents)
            {
                var expected = builder.Build(source, agent.Id, agent.Labels).ConfigId;
                if (agent.AppliedConfigId == expected)
                {
                    continue;
                }
                if (agent.DesiredConfigId == expected && agent.LastApplyStatus is ConfigApplyStatus.Failed or ConfigApplyStatus.RolledBack)
                {
                    throw new InvalidOperationException($"Agent {agent.Id} could not apply the config with the HTTP-01 challenge: {agent.LastApplyError}");
                }
                waiting.Add(agent.Id);
            }
            if (waiting.Count == 0)
            {
                return;
            }
            if (time.GetUtcNow() + AgentPollInterval > deadline)
            {
                throw new TimeoutException($"Agents {string.Join(", ", waiting)} did not apply the HTTP-01 challenge for {certificate.Domain} within {timeout.TotalSeconds:0} s.");
            }
            await Task.Delay(AgentPollInterval, time, cancellationToken);
        }
    }

    private void ConfigChanged(Certificate certificate, string action) =>
        db.Outbox.Add(OutboxMessages.ConfigChanged(certificate.WorkspaceId, "certificate", certificate.Id, action, time.GetUtcNow()));

    /// <summary>The account key of a directory, created (and stored protected) on first use.</summary>
    private async Task<ECDsa> AccountKeyAsync(string directoryUrl, CancellationToken cancellationToken)
    {
        var protector = dataProtection.CreateProtector(AccountKeyPurpose);
        var account = await db.AcmeAccounts.AsNoTracking().FirstOrDefaultAsync(a => a.DirectoryUrl == directoryUrl, cancellationToken);
        if (account is not null)
        {
            return AcmeAccountKey.ImportPem(protector.Unprotect(account.KeyProtected));
        }
        var key = AcmeAccountKey.Create();
        db.AcmeAccounts.Add(new AcmeAccount { DirectoryUrl = directoryUrl, KeyProtected = protector.Protect(AcmeAccountKey.ExportPem(key)), CreatedAt = time.GetUtcNow() });
        await db.SaveChangesAsync(cancellationToken);
        return key;
    }

    private Task RememberAccountUrlAsync(string directoryUrl, string accountUrl, CancellationToken cancellationToken) =>
        db.AcmeAccounts.Where(a => a.DirectoryUrl == directoryUrl && a.AccountUrl != accountUrl)
            .ExecuteUpdateAsync(s => s.SetProperty(a => a.AccountUrl, accountUrl), cancellationToken);
}
