using System.Globalization;
using System.Security.Claims;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace NxMesh.Api.Platform;

/// <summary>Section "RateLimiting".</summary>
public sealed class RateLimitOptions
{
    public const string SectionName = "RateLimiting";
    public bool Enabled { get; set; } = true;
    /// <summary>Requests per window per principal (per client IP when anonymous).</summary>
    public int PermitLimit { get; set; } = 1000;
    public int WindowSeconds { get; set; } = 60;
}

/// <summary>
/// A fixed-window counter in Redis (INCR + EXPIRE in one script), so the limit holds across every Api instance.
/// If Redis cannot answer the request passes (fail open) and a warning is logged: availability over strictness.
/// </summary>
internal sealed partial class RateLimitMiddleware(RequestDelegate next, IConnectionMultiplexer redis, IOptionsMonitor<RateLimitOptions> options, ILogger<RateLimitMiddleware> logger)
{
    private const string Script = """
        local count = redis.call('INCR', KEYS[1])
        if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
        return count
        """;

    public async Task InvokeAsync(HttpContext context)
    {
        var settings = options.CurrentValue;
        if (!settings.Enabled || !context.Request.Path.StartsWithSegments("/v1"))
        {
            await next(context);
            return;
        }
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var window = Math.Max(1, settings.WindowSeconds);
        var windowIndex = now / window;
        var reset = (windowIndex + 1) * window - now;
        var key = $"nxmesh:ratelimit:{Partition(context)}:{windowIndex}";
        long count;
        try
        {
            count = (long)await redis.GetDatabase().ScriptEvaluateAsync(Script, [key], [window]);
        }
        catch (RedisException ex)
        {
            LogRedisUnavailable(ex);
            await next(context);
            return;
        }
        var headers = context.Response.Headers;
        headers["X-RateLimit-Limit"] = settings.PermitLimit.ToString(CultureInfo.InvariantCulture);
        headers["X-RateLimit-Remaining"] = Math.Max(0, settings.PermitLimit - count).ToString(CultureInfo.InvariantCulture);
        headers["X-RateLimit-Reset"] = reset.ToString(CultureInfo.InvariantCulture);
        if (count > settings.PermitLimit)
        {
            var error = new ApiException(429, ErrorCodes.RateLimited, $"Rate limit of {settings.PermitLimit} requests per {window} s exceeded; retry in {reset} s");
            error.Headers["Retry-After"] = reset.ToString(CultureInfo.InvariantCulture);
            throw error;
        }
        await next(context);
    }

    private static string Partition(HttpContext context) =>
        context.User.FindFirstValue(CurrentUser.SubjectClaim) is { } subject
            ? "user:" + subject
            : "ip:" + (context.Connection.RemoteIpAddress?.ToString() ?? "unknown");

    [LoggerMessage(Level = LogLevel.Warning, Message = "Rate limiting skipped: Redis unavailable")]
    private partial void LogRedisUnavailable(Exception ex);
}
