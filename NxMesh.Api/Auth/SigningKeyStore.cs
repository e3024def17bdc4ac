using System.Collections.Concurrent;
using System.Security.Cryptography;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;
using NxMesh.Data;
using NxMesh.Data.Entities;

namespace NxMesh.Api.Auth;

/// <summary>
/// RS256 signing keys shared by every Api instance through Postgres. The newest key signs until it is rotated;
/// every key keeps validating until the tokens it signed have expired. Private keys are protected with Data
/// Protection; public keys are cached per kid and refreshed when a token names an unknown kid.
/// </summary>
public sealed class SigningKeyStore(IServiceScopeFactory scopes, IDataProtectionProvider dataProtection, IOptions<AuthOptions> options, TimeProvider time)
{
    private const string Purpose = "NxMesh.Api.SigningKeys.v1";
    private static readonly TimeSpan MinRefreshInterval = TimeSpan.FromSeconds(2);
    private readonly ConcurrentDictionary<string, (SecurityKey Key, DateTimeOffset ValidUntil)> _validationKeys = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _lock = new(1, 1);
    private readonly Lock _refreshGate = new();
    private Task? _refresh;
    private (string Kid, RsaSecurityKey Key, DateTimeOffset SignUntil)? _current;
    private DateTimeOffset _lastRefresh = DateTimeOffset.MinValue;

    public async Task<SigningCredentials> GetSigningCredentialsAsync(CancellationToken cancellationToken)
    {
        var current = _current;
        if (current is null || current.Value.SignUntil <= time.GetUtcNow())
        {
            await _lock.WaitAsync(cancellationToken);
            try
            {
                current = _current;
                if (current is null || current.Value.SignUntil <= time.GetUtcNow())
                {
                    current = await LoadOrCreateSigningKeyAsync(cancellationToken);
                    _current = current;
                }
            }
            finally
            {
                _lock.Release();
            }
        }
        return new SigningCredentials(current.Value.Key, SecurityAlgorithms.RsaSha256);
    }

    /// <summary>Synchronous, from the cache: used by the JWT handler's key resolver.</summary>
    public IEnumerable<SecurityKey> ValidationKeys(string? kid)
    {
        var now = time.GetUtcNow();
        if (kid is not null && _validationKeys.TryGetValue(kid, out var entry) && entry.ValidUntil > now)
        {
            return [entry.Key];
        }
        return [];
    }

    public bool KnowsKey(string? kid) => kid is not null && _validationKeys.ContainsKey(kid);

    /// <summary>
    /// Reloads public keys from Postgres (at most every 2 s) — called when a token names an unknown kid. Callers that
    /// arrive while a reload runs wait for it: at a fresh start under load, concurrent first requests otherwise found
    /// the reload "recent", validated against no key and answered 401 until it finished (seen in the issue 9 bench).
    /// </summary>
    public Task RefreshAsync(CancellationToken cancellationToken)
    {
        lock (_refreshGate)
        {
            if (_refresh is { IsCompleted: false } running)
            {
                return running.WaitAsync(cancellationToken);
            }
            if (time.GetUtcNow() - _lastRefresh < MinRefreshInterval)
            {
                return Task.CompletedTask;
            }
            _lastRefresh = time.GetUtcNow();
            // Not tied to the first caller's request: its abort must not fail the reload the others wait for.
            _refresh = LoadValidationKeysAsync();
            return _refresh.WaitAsync(cancellationToken);
        }
    }

    private async Task LoadValidationKeysAsync()
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<NxMeshDbContext>();
        var now = time.GetUtcNow();
        var keys = await db.SigningKeys.AsNoTracking().Where(k => k.ValidUntil > now).ToListAsync();
        foreach (var key in keys)
        {
            _validationKeys.TryAdd(key.Id, (PublicKey(key), key.ValidUntil));
        }
        foreach (var (kid, entry) in _validationKeys)
        {
            if (entry.ValidUntil <= now)
            {
                _validationKeys.TryRemove(kid, out _);
            }
        }
    }

    /// <summary>Forgets every cached key (tests that empty the database use it).</summary>
    public void Clear()
    {
        _current = null;
        _validationKeys.Clear();
        _lastRefresh = DateTimeOffset.MinValue;
    }

    private async Task<(string, RsaSecurityKey, DateTimeOffset)> LoadOrCreateSigningKeyAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<NxMeshDbContext>();
        var protector = dataProtection.CreateProtector(Purpose);
        var now = time.GetUtcNow();
        var stored = await db.SigningKeys.AsNoTracking().Where(k => k.SignUntil > now).OrderByDescending(k => k.CreatedAt).FirstOrDefaultAsync(cancellationToken);
        if (stored is null)
        {
            using var rsa = RSA.Create(2048);
            var settings = options.Value;
            var signUntil = now.AddDays(settings.SigningKeyRotationDays);
            stored = new SigningKey
            {
                Id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)),
                PublicKeyPem = rsa.ExportSubjectPublicKeyInfoPem(),
                PrivateKeyProtected = protector.Protect(rsa.ExportPkcs8PrivateKeyPem()),
                CreatedAt = now,
                SignUntil = signUntil,
                ValidUntil = signUntil.AddSeconds(settings.AccessTokenLifetimeSeconds).AddMinutes(5),
            };
            // Two instances may create a key at the same moment: both are valid, each signs with its own.
            db.SigningKeys.Add(stored);
            await db.SaveChangesAsync(cancellationToken);
        }
        var privateRsa = RSA.Create();
        privateRsa.ImportFromPem(protector.Unprotect(stored.PrivateKeyProtected));
        var key = new RsaSecurityKey(privateRsa) { KeyId = stored.Id };
        _validationKeys[stored.Id] = (PublicKey(stored), stored.ValidUntil);
        return (stored.Id, key, stored.SignUntil);
    }

    private static RsaSecurityKey PublicKey(SigningKey key)
    {
        var rsa = RSA.Create();
        rsa.ImportFromPem(key.PublicKeyPem);
        return new RsaSecurityKey(rsa) { KeyId = key.Id };
    }
}
