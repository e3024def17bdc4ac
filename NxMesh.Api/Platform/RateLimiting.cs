using System.Collections.Concurrent;
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
/// A fixed-window limit shared by every Api instance through one Redis counter per principal and window. Each
/// request gets an ordinal in that window's count (X-RateLimit-Remaining = limit − ordinal; over the limit → 429);
/// ordinals come from <see cref="RateLimitBudget"/>, which reserves them from Redis in chunks instead of one script
/// call per request. If Redis cannot answer the request passes (fail open) and a warning is logged: availability over
/// strictness.
/// </summary>
internal sealed partial class RateLimitMiddleware(RequestDelegate next, RateLimitBudget budget, IOptionsMonitor<RateLimitOptions> options, ILogger<RateLimitMiddleware> logger)
{
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
        long ordinal;
        try
        {
            ordinal = await budget.NextAsync(Partition(context), windowIndex, window, settings.PermitLimit);
        }
        catch (RedisException ex)
        {
            LogRedisUnavailable(ex);
            await next(context);
            return;
        }
        var headers = context.Response.Headers;
        headers["X-RateLimit-Limit"] = settings.PermitLimit.ToString(CultureInfo.InvariantCulture);
        headers["X-RateLimit-Remaining"] = Math.Max(0, settings.PermitLimit - ordinal).ToString(CultureInfo.InvariantCulture);
        headers["X-RateLimit-Reset"] = reset.ToString(CultureInfo.InvariantCulture);
        if (ordinal > settings.PermitLimit)
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

/// <summary>
/// Hands out each request's ordinal in its principal's window count. The count lives in Redis
/// (<c>nxmesh:ratelimit:{partition}:{window}</c>, shared by every instance); an instance reserves a range of ordinals
/// with one <c>INCRBY</c> and serves requests from it locally. The range doubles from 1 on every refill up to
/// limit / 100 (at most 1,000), so a principal with few requests, or any limit below 200, still costs one script
/// call per request and counts exactly as before; a busy principal costs one call per up to 1,000 requests (issue 9:
/// the call per request was 21 % of the Api's CPU on the agents list).
/// What this changes: the limit is never exceeded (every admitted request holds a distinct ordinal ≤ limit), but
/// ordinals reserved by one instance and not used within the window are lost to the others — with k instances at most
/// (k − 1) × limit / 100 requests of a window may be refused early, and X-RateLimit-Remaining of two instances'
/// interleaved answers need not decrease monotonically.
/// </summary>
internal sealed class RateLimitBudget(IConnectionMultiplexer redis)
{
    private const string Script = """
        local count = redis.call('INCRBY', KEYS[1], ARGV[2])
        if count == tonumber(ARGV[2]) then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
        return count
        """;
    private const int MaxChunk = 1000;

    private readonly ConcurrentDictionary<(string Partition, long Window), Bucket> _buckets = new();
    private long _sweptWindow;
    private long _reservations;

    /// <summary>Script calls made so far (tests read it).</summary>
    public long Reservations => Interlocked.Read(ref _reservations);

    /// <summary>The request's ordinal in the window; above <paramref name="limit"/> means refused.</summary>
    public async ValueTask<long> NextAsync(string partition, long windowIndex, int windowSeconds, int limit)
    {
        var bucket = _buckets.GetOrAdd((partition, windowIndex), static _ => new Bucket());
        while (true)
        {
            Task refill;
            lock (bucket)
            {
                if (bucket.Next <= bucket.End)
                {
                    return bucket.Next++;
                }
                if (bucket.Exhausted)
                {
                    // The shared count is past the limit and only grows within a window: no call needed.
                    return (long)limit + 1;
                }
                refill = bucket.Refill ??= ReserveAsync(bucket, partition, windowIndex, windowSeconds, limit);
            }
            await refill;
        }
    }

    private async Task ReserveAsync(Bucket bucket, string partition, long windowIndex, int windowSeconds, int limit)
    {
        // Leave the caller's lock before the round trip.
        await Task.Yield();
        int chunk;
        lock (bucket)
        {
            chunk = bucket.Chunk;
            bucket.Chunk = Math.Min(chunk * 2, Math.Clamp(limit / 100, 1, MaxChunk));
        }
        try
        {
            Interlocked.Increment(ref _reservations);
            var key = $"nxmesh:ratelimit:{partition}:{windowIndex}";
            var total = (long)await redis.GetDatabase().ScriptEvaluateAsync(Script, [key], [windowSeconds, chunk]);
            lock (bucket)
            {
                bucket.Next = total - chunk + 1;
                bucket.End = total;
                bucket.Exhausted = total >= limit;
            }
        }
        finally
        {
            lock (bucket)
            {
                bucket.Refill = null;
            }
        }
        Sweep(windowIndex);
    }

    /// <summary>Buckets of past windows are dropped once per window, so memory stays one bucket per active principal.</summary>
    private void Sweep(long windowIndex)
    {
        var swept = Interlocked.Read(ref _sweptWindow);
        if (swept >= windowIndex || Interlocked.CompareExchange(ref _sweptWindow, windowIndex, swept) != swept)
        {
            return;
        }
        foreach (var key in _buckets.Keys)
        {
            if (key.Window < windowIndex)
            {
                _buckets.TryRemove(key, out _);
            }
        }
    }

    private sealed class Bucket
    {
        public long Next { get; set; } = 1;
        public long End { get; set; }
        public bool Exhausted { get; set; }
        public int Chunk { get; set; } = 1;
        public Task? Refill { get; set; }
    }
}
