using System.Net;
using System.Net.Http.Headers;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using NxMesh.Api.Auth;
using Xunit;

namespace NxMesh.Api.Tests;

/// <summary>
/// A validated access token is reused from memory until its own expiry (issue 9), never beyond it, and only for the
/// exact bearer string that was validated.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class ValidatedTokenCacheTests(ApiFixture api) : IAsyncLifetime
{
    public Task InitializeAsync() => api.ResetAsync();
    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task A_token_is_reused_until_it_expires_and_an_altered_one_is_refused()
    {
        await using var factory = api.CreateFactory(new Dictionary<string, string?> { ["Auth:AccessTokenLifetimeSeconds"] = "10" });
        await api.CreateUserAsync("user@example.com");
        var client = await ApiFixture.LoginAsync(factory, "user@example.com");
        var cache = factory.Services.GetRequiredService<ValidatedTokenCache>();
        var token = client.DefaultRequestHeaders.Authorization!.Parameter!;

        await (await client.GetAsync("/v1/me")).JsonAsync(HttpStatusCode.OK);
        var hits = cache.Hits;
        await (await client.GetAsync("/v1/me")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(hits + 1, cache.Hits);

        var altered = factory.CreateClient();
        altered.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token[..^2] + (token[^2] == 'A' ? "BA" : "AA"));
        await (await altered.GetAsync("/v1/me")).ErrorAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");

        // Past its exp the entry is gone: the next request validates the token again (the 30 s clock skew still admits it).
        var expires = new JsonWebToken(token).ValidTo;
        var wait = expires - DateTime.UtcNow + TimeSpan.FromMilliseconds(200);
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait);
        }
        hits = cache.Hits;
        await (await client.GetAsync("/v1/me")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(hits, cache.Hits);
    }
}
