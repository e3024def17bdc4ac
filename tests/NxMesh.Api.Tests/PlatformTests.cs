using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Xunit;

namespace NxMesh.Api.Tests;

[Collection(ApiCollection.Name)]
public sealed class PlatformTests(ApiFixture api) : IAsyncLifetime
{
    public Task InitializeAsync() => api.ResetAsync();
    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Unknown_route_answers_404_with_the_envelope()
    {
        var (_, client) = await api.NewUserAsync("a@example.com");
        await (await client.GetAsync("/v1/no-such-thing")).ErrorAsync(HttpStatusCode.NotFound, "NOT_FOUND");
        await (await client.GetAsync("/v1/organizations/not-a-guid")).ErrorAsync(HttpStatusCode.NotFound, "NOT_FOUND");
    }

    [Fact]
    public async Task Wrong_method_answers_405_with_the_envelope()
    {
        var (_, client) = await api.NewUserAsync("a@example.com");
        await (await client.PutAsJsonAsync("/v1/organizations", new { })).ErrorAsync(HttpStatusCode.MethodNotAllowed, "METHOD_NOT_ALLOWED");
    }

    [Fact]
    public async Task Missing_or_invalid_token_answers_401_with_the_envelope()
    {
        var client = api.Anonymous();
        await (await client.GetAsync("/v1/organizations")).ErrorAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "eyJhbGciOiJSUzI1NiJ9.e30.c2ln");
        await (await client.GetAsync("/v1/me")).ErrorAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");
    }

    [Fact]
    public async Task Malformed_json_answers_422_validation_error()
    {
        var (_, client) = await api.NewUserAsync("a@example.com");
        var error = await (await client.SendRawAsync(HttpMethod.Post, "/v1/organizations", "{\"name\": \"x\",")).ErrorAsync(HttpStatusCode.UnprocessableEntity, "VALIDATION_ERROR");
        Assert.Contains(error.Details(), d => d.Code == "INVALID_FORMAT");
        var typed = await (await client.SendRawAsync(HttpMethod.Post, "/v1/organizations", "{\"name\": 5, \"slug\": \"x\"}")).ErrorAsync(HttpStatusCode.UnprocessableEntity, "VALIDATION_ERROR");
        Assert.Contains(typed.Details(), d => d.Field == "name" && d.Code == "INVALID_FORMAT");
        await (await client.SendRawAsync(HttpMethod.Post, "/v1/organizations", "")).ErrorAsync(HttpStatusCode.UnprocessableEntity, "VALIDATION_ERROR");
    }

    [Fact]
    public async Task Wrong_content_type_answers_415()
    {
        var (_, client) = await api.NewUserAsync("a@example.com");
        await (await client.SendRawAsync(HttpMethod.Post, "/v1/organizations", "name=x", "application/x-www-form-urlencoded"))
            .ErrorAsync(HttpStatusCode.UnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE");
    }

    [Fact]
    public async Task Body_over_one_mebibyte_answers_413_announced_or_streamed()
    {
        var (_, client) = await api.NewUserAsync("a@example.com");
        var big = "{\"name\": \"" + new string('a', 1024 * 1024 + 10) + "\", \"slug\": \"big\"}";
        await (await client.SendRawAsync(HttpMethod.Post, "/v1/organizations", big)).ErrorAsync(HttpStatusCode.RequestEntityTooLarge, "PAYLOAD_TOO_LARGE");
        var streamed = new HttpRequestMessage(HttpMethod.Post, "/v1/organizations") { Content = new StreamContent(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(big))) };
        streamed.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        streamed.Headers.TransferEncodingChunked = true;
        await (await client.SendAsync(streamed)).ErrorAsync(HttpStatusCode.RequestEntityTooLarge, "PAYLOAD_TOO_LARGE");
    }

    [Theory]
    [InlineData("per_page=0")]
    [InlineData("per_page=101")]
    [InlineData("per_page=abc")]
    [InlineData("page=0")]
    [InlineData("page=-1")]
    public async Task Paging_out_of_range_answers_422(string query)
    {
        var (_, client) = await api.NewUserAsync("a@example.com");
        var error = await (await client.GetAsync("/v1/organizations?" + query)).ErrorAsync(HttpStatusCode.UnprocessableEntity, "VALIDATION_ERROR");
        Assert.Contains(error.Details(), d => d.Code == "OUT_OF_RANGE");
    }

    [Fact]
    public async Task Every_answer_carries_a_request_id()
    {
        var (_, client) = await api.NewUserAsync("a@example.com");
        var response = await client.GetAsync("/v1/organizations");
        await response.JsonAsync(HttpStatusCode.OK);
        Assert.StartsWith("req_", Assert.Single(response.Headers.GetValues("X-Request-Id")), StringComparison.Ordinal);
    }
}

[Collection(ApiCollection.Name)]
public sealed class InternalErrorTests(ApiFixture api)
{
    [Fact]
    public async Task An_unhandled_failure_answers_500_internal_error_with_the_envelope_and_no_details_leaked()
    {
        // A database that refuses connections: the handler fails inside EF.
        await using var broken = api.CreateFactory(new Dictionary<string, string?>
        {
            ["ConnectionStrings:nxmesh"] = $"Host=127.0.0.1;Port={NxMesh.AppHost.Local.LocalDataDirectory.FreeTcpPort()};Username=x;Password=y;Database=z;Timeout=2",
            ["Aspire:Npgsql:EntityFrameworkCore:PostgreSQL:DisableRetry"] = "true",
        });
        var response = await broken.CreateClient().PostAsJsonAsync("/v1/auth/login", new { email = "a@example.com", password = "whatever-password" });
        var error = await response.ErrorAsync(HttpStatusCode.InternalServerError, "INTERNAL_ERROR");
        Assert.DoesNotContain("Npgsql", error.GetRawText(), StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("127.0.0.1", error.GetRawText(), StringComparison.Ordinal);
    }
}
