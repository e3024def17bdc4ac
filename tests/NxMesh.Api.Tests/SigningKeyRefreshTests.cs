using System.Net;
using Microsoft.Extensions.DependencyInjection;
using NxMesh.Api.Auth;
using Xunit;

namespace NxMesh.Api.Tests;

/// <summary>
/// An instance that has not loaded the key a token was signed with (a fresh start, or a key another instance made)
/// loads it once; requests arriving during that load wait for it instead of answering 401.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class SigningKeyRefreshTests(ApiFixture api) : IAsyncLifetime
{
    public Task InitializeAsync() => api.ResetAsync();
    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Concurrent_first_requests_with_an_unknown_key_all_succeed()
    {
        var (_, client) = await api.NewUserAsync("owner@keys.example.com");
        api.Factory.Services.GetRequiredService<SigningKeyStore>().Clear();

        var answers = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => client.GetAsync("/v1/me")));

        Assert.All(answers, a => Assert.Equal(HttpStatusCode.OK, a.StatusCode));
    }
}
