using System.Collections.Concurrent;
using System.Security.Claims;

namespace NxMesh.Api.Auth;

/// <summary>
/// Access tokens this instance has validated, with their principal, until the token's own expiry. A repeat of the
/// same bearer string skips parsing and the RS256 check (issue 9: the agents list at thousands of requests/s with one
/// token). Access tokens are stateless (no per-request revocation exists to bypass): what a cached token grants is what
/// validating it again would grant, and the caller's role is still read from the database by every request.
/// The principal is shared by the requests of one token and must not be mutated (nothing in the Api does).
/// </summary>
public sealed class ValidatedTokenCache(TimeProvider time)
{
    /// <summary>Bounded: past this many tokens the expired ones are dropped, and if that is not enough, all.</summary>
    private const int MaxEntries = 10_000;

    private readonly ConcurrentDictionary<string, (ClaimsPrincipal Principal, DateTimeOffset Expires)> _entries = new(StringComparer.Ordinal);
    private long _hits;

    /// <summary>Requests authenticated from the cache (tests read it).</summary>
    public long Hits => Interlocked.Read(ref _hits);

    public ClaimsPrincipal? Find(string token)
    {
        if (!_entries.TryGetValue(token, out var entry))
        {
            return null;
        }
        if (entry.Expires <= time.GetUtcNow())
        {
            _entries.TryRemove(token, out _);
            return null;
        }
        Interlocked.Increment(ref _hits);
        return entry.Principal;
    }

    public void Add(string token, ClaimsPrincipal principal, DateTimeOffset expires)
    {
        var now = time.GetUtcNow();
        if (expires <= now)
        {
            return;
        }
        if (_entries.Count >= MaxEntries)
        {
            foreach (var (key, entry) in _entries)
            {
                if (entry.Expires <= now)
                {
                    _entries.TryRemove(key, out _);
                }
            }
            if (_entries.Count >= MaxEntries)
            {
                _entries.Clear();
            }
        }
        _entries[token] = (principal, expires);
    }
}
