using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Xunit;

namespace NxMesh.Api.Tests;

internal static class Http
{
    public static async Task<JsonElement> JsonAsync(this HttpResponseMessage response, HttpStatusCode expected)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"Expected {(int)expected}, got {(int)response.StatusCode}: {body}");
        return body.Length == 0 ? default : JsonDocument.Parse(body).RootElement.Clone();
    }

    /// <summary>Asserts the spec's error envelope (shape from the spec's example), its code, and X-Request-Id = request_id.</summary>
    public static async Task<JsonElement> ErrorAsync(this HttpResponseMessage response, HttpStatusCode status, string code)
    {
        var body = await response.JsonAsync(status);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var error = body.GetProperty("error");
        Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
        var requestId = error.GetProperty("request_id").GetString();
        Assert.False(string.IsNullOrEmpty(requestId));
        Assert.Equal(requestId, Assert.Single(response.Headers.GetValues("X-Request-Id")));
        SpecExamples.AssertShape(SpecExamples.Error(), body);
        return error;
    }

    /// <summary>The codes of details[] (empty when absent).</summary>
    public static IReadOnlyList<(string Field, string Code)> Details(this JsonElement error) =>
        error.TryGetProperty("details", out var details)
            ? details.EnumerateArray().Select(d => (d.GetProperty("field").GetString()!, d.GetProperty("code").GetString()!)).ToList()
            : [];

    public static Task<HttpResponseMessage> PatchAsJsonAsync<T>(this HttpClient client, string uri, T body) =>
        client.SendAsync(new HttpRequestMessage(HttpMethod.Patch, uri) { Content = JsonContent.Create(body) });

    public static Task<HttpResponseMessage> SendRawAsync(this HttpClient client, HttpMethod method, string uri, string body, string contentType = "application/json") =>
        client.SendAsync(new HttpRequestMessage(method, uri) { Content = new StringContent(body, System.Text.Encoding.UTF8, contentType) });
}
