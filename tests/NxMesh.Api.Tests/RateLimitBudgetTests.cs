using System.Globalization;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using NxMesh.Api.Platform;
using Xunit;

namespace NxMesh.Api.Tests;

/// <summary>
/// A busy principal's ordinals are reserved from Redis in chunks (issue 9: one script call per request was a fifth of
/// the Api's CPU on the agents list). Across two instances the limit must still hold exactly: every admitted request
/// a distinct ordinal, none above the limit, and none of the limit lost once both instances have used theirs.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class RateLimitBudgetTests(ApiFixture api) : IAsyncLifetime
{
    private const int Limit = 400;
    private static readonly Dictionary<string, string?> Settings = new()
    {
        ["RateLimiting:PermitLimit"] = Limit.ToString(CultureInfo.InvariantCulture),
        ["RateLimiting:WindowSeconds"] = "3600",
    };

    public Task InitializeAsync() => api.ResetAsync();
    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Two_instances_admit_exactly_the_limit_with_distinct_ordinals_and_far_fewer_redis_calls_than_requests()
    {
        await api.CreateUserAsync("user@example.com");
        await using var first = api.CreateFactory(Settings);
        await using var second = api.CreateFactory(Settings);
        var a = await ApiFixture.LoginAsync(first, "user@example.com");
        var b = second.CreateClient();
        b.DefaultRequestHeaders.Authorization = a.DefaultRequestHeaders.Authorization;

        var remaining = new List<int>();
        var refusedInARow = 0;
        for (var i = 0; refusedInARow < 2; i++)
        {
            Assert.True(i < 2 * Limit, "requests were still admitted after twice the limit");
            var response = await (i % 2 == 0 ? a : b).GetAsync("/v1/me");
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                await response.ErrorAsync(HttpStatusCode.TooManyRequests, "RATE_LIMITED");
                refusedInARow++;
                continue;
            }
            await response.JsonAsync(HttpStatusCode.OK);
            refusedInARow = 0;
            remaining.Add(int.Parse(Assert.Single(response.Headers.GetValues("X-RateLimit-Remaining")), CultureInfo.InvariantCulture));
        }

        Assert.Equal(Enumerable.Range(0, Limit).Reverse(), remaining.OrderDescending());
        var calls = first.Services.GetRequiredService<RateLimitBudget>().Reservations + second.Services.GetRequiredService<RateLimitBudget>().Reservations;
        // Chunks grow 1, 2, 4 (limit / 100): about a quarter of the requests, plus the refusals' one call each.
        Assert.InRange(calls, 2, Limit / 3);
    }
}
