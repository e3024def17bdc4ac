using System.Globalization;
using System.Net;
using Xunit;

namespace NxMesh.Api.Tests;

[Collection(ApiCollection.Name)]
public sealed class RateLimitTests(ApiFixture api) : IAsyncLifetime
{
    private static readonly Dictionary<string, string?> SmallLimit = new() { ["RateLimiting:PermitLimit"] = "6", ["RateLimiting:WindowSeconds"] = "600" };

    public Task InitializeAsync() => api.ResetAsync();
    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task The_limit_holds_across_two_api_instances_sharing_redis()
    {
        await api.CreateUserAsync("user@example.com");
        await using var first = api.CreateFactory(SmallLimit);
        await using var second = api.CreateFactory(SmallLimit);
        // The login request itself counts (anonymous, per IP); the principal's budget is its own.
        var a = await ApiFixture.LoginAsync(first, "user@example.com");
        var b = second.CreateClient();
        b.DefaultRequestHeaders.Authorization = a.DefaultRequestHeaders.Authorization;

        var remaining = new List<int>();
        for (var i = 0; i < 6; i++)
        {
            var response = await (i % 2 == 0 ? a : b).GetAsync("/v1/me");
            await response.JsonAsync(HttpStatusCode.OK);
            Assert.Equal("6", Assert.Single(response.Headers.GetValues("X-RateLimit-Limit")));
            remaining.Add(int.Parse(Assert.Single(response.Headers.GetValues("X-RateLimit-Remaining")), CultureInfo.InvariantCulture));
        }
        Assert.Equal([5, 4, 3, 2, 1, 0], remaining);

        foreach (var client in new[] { a, b })
        {
            var limited = await client.GetAsync("/v1/me");
            await limited.ErrorAsync(HttpStatusCode.TooManyRequests, "RATE_LIMITED");
            var retryAfter = int.Parse(Assert.Single(limited.Headers.GetValues("Retry-After")), CultureInfo.InvariantCulture);
            Assert.InRange(retryAfter, 1, 600);
            Assert.Equal(retryAfter.ToString(CultureInfo.InvariantCulture), Assert.Single(limited.Headers.GetValues("X-RateLimit-Reset")));
            Assert.Equal("0", Assert.Single(limited.Headers.GetValues("X-RateLimit-Remaining")));
        }

        // Another principal has its own budget.
        await api.CreateUserAsync("other@example.com");
        var other = await ApiFixture.LoginAsync(second, "other@example.com");
        await (await other.GetAsync("/v1/me")).JsonAsync(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Anonymous_callers_are_limited_per_address()
    {
        await using var factory = api.CreateFactory(SmallLimit);
        var client = factory.CreateClient();
        for (var i = 0; i < 6; i++)
        {
            await (await client.GetAsync("/v1/organizations")).ErrorAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        }
        await (await client.GetAsync("/v1/organizations")).ErrorAsync(HttpStatusCode.TooManyRequests, "RATE_LIMITED");
        // Health and the OpenAPI document are outside /v1 and never limited.
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/openapi/v1.json")).StatusCode);
    }
}
