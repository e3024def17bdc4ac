using System.Globalization;
using Microsoft.Extensions.Options;
using NxMesh.Api.Platform;
using StackExchange.Redis;

namespace NxMesh.Api.Auth;

/// <summary>
/// Counts failed logins in Redis per email and per client IP within a window; over the limit, login answers 429
/// before any password is checked. Shared by every Api instance.
/// </summary>
public sealed partial class LoginThrottle(IConnectionMultiplexer redis, IOptions<AuthOptions> options, ILogger<LoginThrottle> logger)
{
    private const string Script = """
        local count = redis.call('INCR', KEYS[1])
        if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
        return count
        """;

    public async Task EnsureAllowedAsync(string email, string ip)
    {
        var settings = options.Value;
        try
        {
            var db = redis.GetDatabase();
            var values = await Task.WhenAll(db.StringGetAsync(EmailKey(email)), db.StringGetAsync(IpKey(ip)));
            var byEmail = (long?)values[0] ?? 0;
            var byIp = (long?)values[1] ?? 0;
            if (byEmail >= settings.MaxFailedLogins || byIp >= settings.MaxFailedLogins * 5L)
            {
                var ttl = await db.KeyTimeToLiveAsync(byEmail >= settings.MaxFailedLogins ? EmailKey(email) : IpKey(ip));
                var retry = (int)Math.Ceiling((ttl ?? TimeSpan.FromSeconds(settings.FailedLoginWindowSeconds)).TotalSeconds);
                var error = new ApiException(429, ErrorCodes.RateLimited, $"Too many failed logins; retry in {retry} s");
                error.Headers["Retry-After"] = retry.ToString(CultureInfo.InvariantCulture);
                throw error;
            }
        }
        catch (RedisException ex)
        {
            LogRedisUnavailable(ex);
        }
    }

    public async Task RecordFailureAsync(string email, string ip)
    {
        var window = options.Value.FailedLoginWindowSeconds;
        try
        {
            var db = redis.GetDatabase();
            await Task.WhenAll(
                db.ScriptEvaluateAsync(Script, [EmailKey(email)], [window]),
                db.ScriptEvaluateAsync(Script, [IpKey(ip)], [window]));
        }
        catch (RedisException ex)
        {
            LogRedisUnavailable(ex);
        }
    }

    public async Task RecordSuccessAsync(string email)
    {
        try
        {
            await redis.GetDatabase().KeyDeleteAsync(EmailKey(email));
        }
        catch (RedisException ex)
        {
            LogRedisUnavailable(ex);
        }
    }

    private static string EmailKey(string email) => "nxmesh:login-failures:email:" + email;
    private static string IpKey(string ip) => "nxmesh:login-failures:ip:" + ip;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Login throttling skipped: Redis unavailable")]
    private partial void LogRedisUnavailable(Exception ex);
}
