using System.Net;
using System.Text.Json;

namespace NxMesh.Acme;

/// <summary>An RFC 7807 problem document as ACME servers send them (RFC 8555 §6.7), subproblems included.</summary>
public sealed record AcmeProblem(string Type, string? Detail, int? Status, IReadOnlyList<AcmeProblem> Subproblems, string? Identifier)
{
    public const string ErrorPrefix = "urn:ietf:params:acme:error:";
    public const string BadNonce = ErrorPrefix + "badNonce";

    /// <summary>The type without the ACME URN prefix (<c>badNonce</c>, <c>connection</c>, …).</summary>
    public string ShortType => Type.StartsWith(ErrorPrefix, StringComparison.Ordinal) ? Type[ErrorPrefix.Length..] : Type;

    /// <summary>"connection: 127.0.0.2: Connection refused" — type and detail, then each subproblem's.</summary>
    public override string ToString()
    {
        var text = string.IsNullOrEmpty(Detail) ? ShortType : $"{ShortType}: {Detail}";
        if (Identifier is not null)
        {
            text = $"{Identifier}: {text}";
        }
        return Subproblems.Count == 0 ? text : text + " (" + string.Join("; ", Subproblems) + ")";
    }

    /// <summary>Null when the text is not a JSON object with a <c>type</c>.</summary>
    public static AcmeProblem? TryParse(string? json)
    {
        if (string.IsNullOrWhiteSpace(json))
        {
            return null;
        }
        try
        {
            using var document = JsonDocument.Parse(json);
            return From(document.RootElement);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    public static AcmeProblem? From(JsonElement element)
    {
        if (element.ValueKind != JsonValueKind.Object || !element.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
        {
            return null;
        }
        var subproblems = new List<AcmeProblem>();
        if (element.TryGetProperty("subproblems", out var list) && list.ValueKind == JsonValueKind.Array)
        {
            subproblems.AddRange(list.EnumerateArray().Select(From).OfType<AcmeProblem>());
        }
        string? identifier = null;
        if (element.TryGetProperty("identifier", out var id) && id.ValueKind == JsonValueKind.Object && id.TryGetProperty("value", out var value))
        {
            identifier = value.GetString();
        }
        return new AcmeProblem(
            type.GetString()!,
            element.TryGetProperty("detail", out var detail) && detail.ValueKind == JsonValueKind.String ? detail.GetString() : null,
            element.TryGetProperty("status", out var status) && status.ValueKind == JsonValueKind.Number ? status.GetInt32() : null,
            subproblems,
            identifier);
    }
}

/// <summary>An ACME request or flow that failed; <see cref="Exception.Message"/> is readable (problem type + detail).</summary>
public sealed class AcmeException : Exception
{
    public AcmeException(string message, AcmeProblem? problem = null, HttpStatusCode? statusCode = null, Exception? inner = null)
        : base(message, inner)
    {
        Problem = problem;
        StatusCode = statusCode;
    }

    public AcmeProblem? Problem { get; }
    public HttpStatusCode? StatusCode { get; }
}
