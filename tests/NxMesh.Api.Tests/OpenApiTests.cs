using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace NxMesh.Api.Tests;

[Collection(ApiCollection.Name)]
public sealed class OpenApiTests(ApiFixture api)
{
    [Fact]
    public async Task Every_mapped_v1_route_is_in_the_document_with_its_methods()
    {
        var document = await (await api.Anonymous().GetAsync("/openapi/v1.json")).JsonAsync(HttpStatusCode.OK);
        var paths = document.GetProperty("paths");
        var endpoints = api.Factory.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText is { } raw && raw.StartsWith("/v1/", StringComparison.Ordinal)).ToList();
        Assert.True(endpoints.Count >= 25, $"only {endpoints.Count} endpoints");
        foreach (var endpoint in endpoints)
        {
            var path = System.Text.RegularExpressions.Regex.Replace(endpoint.RoutePattern.RawText!, ":[a-z]+}", "}");
            Assert.True(paths.TryGetProperty(path, out var item), $"{path} missing from the OpenAPI document");
            foreach (var method in endpoint.Metadata.GetMetadata<IHttpMethodMetadata>()!.HttpMethods)
            {
                Assert.True(item.TryGetProperty(method.ToLowerInvariant(), out var operation), $"{method} {path} missing");
                Assert.True(operation.TryGetProperty("operationId", out _), $"{method} {path} has no operationId");
                Assert.True(operation.TryGetProperty("summary", out _), $"{method} {path} has no summary");
            }
        }
    }

    [Fact]
    public async Task The_document_has_the_bearer_scheme_error_envelope_and_snake_case_schemas()
    {
        var document = await (await api.Anonymous().GetAsync("/openapi/v1.json")).JsonAsync(HttpStatusCode.OK);
        var scheme = document.GetProperty("components").GetProperty("securitySchemes").GetProperty("Bearer");
        Assert.Equal("http", scheme.GetProperty("type").GetString());
        Assert.Equal("bearer", scheme.GetProperty("scheme").GetString());

        var getAgent = document.GetProperty("paths").GetProperty("/v1/agents/{agent_id}").GetProperty("get");
        Assert.True(getAgent.TryGetProperty("security", out _));
        foreach (var status in new[] { "401", "403", "404", "422", "429", "500" })
        {
            Assert.True(getAgent.GetProperty("responses").TryGetProperty(status, out _), $"GET /v1/agents/{{agent_id}} lacks {status}");
        }
        var login = document.GetProperty("paths").GetProperty("/v1/auth/login").GetProperty("post");
        // Anonymous operations say so explicitly: one empty requirement.
        var anonymous = Assert.Single(login.GetProperty("security").EnumerateArray().ToList());
        Assert.Empty(anonymous.EnumerateObject());

        var schemas = document.GetProperty("components").GetProperty("schemas");
        var errorBody = schemas.GetProperty("ErrorBody").GetProperty("properties");
        Assert.True(errorBody.TryGetProperty("request_id", out _));
        var agent = schemas.GetProperty("AgentResponse").GetProperty("properties");
        foreach (var name in new[] { "workspace_id", "ip_address", "deployment_mode", "last_seen_at", "created_at" })
        {
            Assert.True(agent.TryGetProperty(name, out _), $"AgentResponse lacks {name}");
        }
        var text = document.GetRawText();
        Assert.Contains("docker_sidecar", text, StringComparison.Ordinal);
        Assert.DoesNotContain("\"workspaceId\"", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Scalar_serves_the_reference_at_docs()
    {
        var response = await api.Anonymous().GetAsync("/docs");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("text/html", response.Content.Headers.ContentType!.ToString(), StringComparison.Ordinal);
        var html = await response.Content.ReadAsStringAsync();
        Assert.Contains("openapi/v1.json", html, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await api.Anonymous().GetAsync("/docs/scalar.js")).StatusCode);
    }

    [Fact]
    public async Task The_document_is_written_for_ci_validation()
    {
        var text = await api.Anonymous().GetStringAsync("/openapi/v1.json");
        using var document = JsonDocument.Parse(text);
        Assert.StartsWith("3.", document.RootElement.GetProperty("openapi").GetString(), StringComparison.Ordinal);
        // Written next to the test assembly so CI can lint it with a third-party validator.
        await File.WriteAllTextAsync(Path.Combine(AppContext.BaseDirectory, "openapi-v1.json"), text);
    }
}
