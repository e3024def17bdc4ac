using System.Text.Json;
using NxMesh.Nginx.Validation;

namespace NxMesh.Api.Platform;

/// <summary>
/// A PATCH body: the typed fields plus which of them were present, so "absent keeps, present replaces, explicit
/// null clears" can be told apart (a typed record alone reads absent and null the same way).
/// </summary>
public sealed class PatchBody<T> where T : class
{
    private readonly HashSet<string> _present;

    private PatchBody(T value, HashSet<string> present)
    {
        Value = value;
        _present = present;
    }

    public T Value { get; }

    /// <summary>True when the JSON object named the field (snake_case), whatever its value.</summary>
    public bool Has(string field) => _present.Contains(field);

    /// <summary>
    /// Reads the request body (the endpoint declares <c>Accepts&lt;T&gt;</c>, so OpenAPI shows the typed schema):
    /// not JSON → 415; malformed, not an object, or a value of the wrong type → 422.
    /// </summary>
    public static async Task<PatchBody<T>> ReadAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        if (!request.HasJsonContentType())
        {
            throw new BadHttpRequestException("Content-Type must be application/json", StatusCodes.Status415UnsupportedMediaType);
        }
        JsonDocument document;
        try
        {
            document = await JsonDocument.ParseAsync(request.Body, default, cancellationToken);
        }
        catch (JsonException)
        {
            throw ApiException.Validation("body", ValidationCodes.InvalidFormat, "Malformed JSON");
        }
        using (document)
        {
            return Read(document.RootElement);
        }
    }

    public static PatchBody<T> Read(JsonElement body)
    {
        if (body.ValueKind != JsonValueKind.Object)
        {
            throw ApiException.Validation("body", ValidationCodes.InvalidFormat, "The request body must be a JSON object");
        }
        try
        {
            var value = body.Deserialize<T>(ApiJson.Options)
                ?? throw ApiException.Validation("body", ValidationCodes.InvalidFormat, "The request body must be a JSON object");
            return new PatchBody<T>(value, body.EnumerateObject().Select(p => p.Name).ToHashSet(StringComparer.Ordinal));
        }
        catch (JsonException ex)
        {
            var field = string.IsNullOrEmpty(ex.Path) || ex.Path == "$" ? "body" : ex.Path.StartsWith("$.", StringComparison.Ordinal) ? ex.Path[2..] : ex.Path.TrimStart('$');
            throw ApiException.Validation(field, ValidationCodes.InvalidFormat, $"Malformed JSON or wrong type at '{field}'");
        }
    }
}
