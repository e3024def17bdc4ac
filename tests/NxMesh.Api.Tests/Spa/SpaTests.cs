using System.Net;
using Xunit;

namespace NxMesh.Api.Tests.Spa;

/// <summary>The web console is served at / with a client-route fallback that never answers for the API's paths.</summary>
[Collection(ApiCollection.Name)]
public sealed class SpaTests(ApiFixture api)
{
    [Theory]
    [InlineData("/")]
    [InlineData("/login")]
    [InlineData("/w/00000000-0000-0000-0000-000000000001/virtual-hosts/new")]
    public async Task Console_routes_answer_the_app_shell(string path)
    {
        var response = await api.Anonymous().GetAsync(path);
        var body = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("<div id=\"root\"></div>", body, StringComparison.Ordinal);
        Assert.Equal("no-cache", response.Headers.CacheControl?.ToString());
    }

    [Fact]
    public async Task Built_assets_are_served_as_immutable_files()
    {
        var shell = await api.Anonymous().GetStringAsync("/");
        var script = System.Text.RegularExpressions.Regex.Match(shell, "src=\"(/assets/[^\"]+\\.js)\"").Groups[1].Value;
        Assert.NotEmpty(script);
        var response = await api.Anonymous().GetAsync(script);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/javascript", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("immutable", response.Headers.CacheControl?.ToString(), StringComparison.Ordinal);

        var missing = await api.Anonymous().GetAsync("/assets/missing-0000.js");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.NotEqual("text/html", missing.Content.Headers.ContentType?.MediaType);
    }

    [Theory]
    [InlineData("/v1")]
    [InlineData("/v1/")]
    [InlineData("/v1/no-such-resource")]
    [InlineData("/v1/workspaces/00000000-0000-0000-0000-000000000001/no-such-thing")]
    [InlineData("/openapi/")]
    [InlineData("/openapi/other")]
    public async Task The_fallback_never_answers_under_v1_or_openapi(string path)
    {
        var response = await api.Anonymous().GetAsync(path);
        await response.ErrorAsync(HttpStatusCode.NotFound, "NOT_FOUND");
    }

    [Fact]
    public async Task Api_routes_keep_their_own_answers()
    {
        var client = api.Anonymous();
        await (await client.PutAsync("/v1/auth/login", null)).ErrorAsync(HttpStatusCode.MethodNotAllowed, "METHOD_NOT_ALLOWED");
        await (await client.GetAsync("/v1/me")).ErrorAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        var document = await client.GetAsync("/openapi/v1.json");
        Assert.Equal(HttpStatusCode.OK, document.StatusCode);
        Assert.Equal("application/json", document.Content.Headers.ContentType?.MediaType);
    }
}
