using Microsoft.AspNetCore.Http.Metadata;
using NxMesh.Nginx.Validation;

namespace NxMesh.Api.Platform;

/// <summary>The spec's error envelope, used for every non-2xx answer.</summary>
public sealed record ErrorResponse(ErrorBody Error);

/// <summary><c>details</c> is always present (empty when there is nothing per field), so clients can rely on it.</summary>
public sealed record ErrorBody(string Code, string Message, string RequestId, IReadOnlyList<ErrorDetail> Details);

public sealed record ErrorDetail(string Field, string Message, string Code)
{
    public static ErrorDetail From(ValidationIssue issue) => new(issue.Field, issue.Message, issue.Code);
}

/// <summary>The spec's error codes plus design.md's additions.</summary>
public static class ErrorCodes
{
    public const string Unauthorized = "UNAUTHORIZED";
    public const string Forbidden = "FORBIDDEN";
    public const string NotFound = "NOT_FOUND";
    public const string ValidationError = "VALIDATION_ERROR";
    public const string Conflict = "CONFLICT";
    public const string RateLimited = "RATE_LIMITED";
    public const string InternalError = "INTERNAL_ERROR";
    public const string ServiceUnavailable = "SERVICE_UNAVAILABLE";
    public const string MethodNotAllowed = "METHOD_NOT_ALLOWED";
    public const string PayloadTooLarge = "PAYLOAD_TOO_LARGE";
    public const string UnsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE";

    /// <summary><c>details[].code</c> when a user created with a one-time password has not set a new one yet.</summary>
    public const string PasswordChangeRequired = "PASSWORD_CHANGE_REQUIRED";

    public static (string Code, string Message) ForStatus(int status) => status switch
    {
        StatusCodes.Status401Unauthorized => (Unauthorized, "Authentication required"),
        StatusCodes.Status403Forbidden => (Forbidden, "Insufficient permissions"),
        StatusCodes.Status404NotFound => (NotFound, "Resource not found"),
        StatusCodes.Status405MethodNotAllowed => (MethodNotAllowed, "Method not allowed on this resource"),
        StatusCodes.Status409Conflict => (Conflict, "Resource conflict"),
        StatusCodes.Status413PayloadTooLarge => (PayloadTooLarge, "Request body too large"),
        StatusCodes.Status415UnsupportedMediaType => (UnsupportedMediaType, "Content-Type must be application/json"),
        StatusCodes.Status400BadRequest or StatusCodes.Status422UnprocessableEntity => (ValidationError, "Request validation failed"),
        StatusCodes.Status429TooManyRequests => (RateLimited, "Too many requests"),
        StatusCodes.Status503ServiceUnavailable => (ServiceUnavailable, "Service temporarily unavailable"),
        _ => (InternalError, "Server internal error"),
    };
}

/// <summary>Thrown by handlers and helpers; the error middleware writes it as the envelope.</summary>
public sealed class ApiException(int status, string code, string message, IReadOnlyList<ErrorDetail>? details = null)
    : Exception(message)
{
    public int Status { get; } = status;
    public string Code { get; } = code;
    public IReadOnlyList<ErrorDetail>? Details { get; } = details;

    /// <summary>Extra response headers (Retry-After …).</summary>
    public Dictionary<string, string> Headers { get; } = [];

    public static ApiException NotFound(string what = "Resource") => new(404, ErrorCodes.NotFound, $"{what} not found");
    public static ApiException Forbidden(string message = "Insufficient permissions") => new(403, ErrorCodes.Forbidden, message);
    public static ApiException Unauthorized(string message = "Authentication required or invalid credentials") => new(401, ErrorCodes.Unauthorized, message);
    public static ApiException Conflict(string message, IReadOnlyList<ErrorDetail>? details = null) => new(409, ErrorCodes.Conflict, message, details);
    public static ApiException Validation(IReadOnlyList<ErrorDetail> details) => new(422, ErrorCodes.ValidationError, "Request validation failed", details);
    public static ApiException Validation(string field, string code, string message) => Validation([new ErrorDetail(field, message, code)]);
    public static ApiException Unavailable(string message) => new(503, ErrorCodes.ServiceUnavailable, message);
}

/// <summary>Documents an error status with the envelope in OpenAPI, once per route group.</summary>
internal sealed class ErrorResponseMetadata(int statusCode) : IProducesResponseTypeMetadata
{
    public Type? Type => typeof(ErrorResponse);
    public int StatusCode => statusCode;
    public string? Description => ErrorCodes.ForStatus(statusCode).Message;
    public IEnumerable<string> ContentTypes => ["application/json"];
}

internal static class ErrorMetadataExtensions
{
    public static TBuilder ProducesErrors<TBuilder>(this TBuilder builder, params int[] statusCodes) where TBuilder : IEndpointConventionBuilder
    {
        foreach (var status in statusCodes)
        {
            builder.WithMetadata(new ErrorResponseMetadata(status));
        }
        return builder;
    }
}
