using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.Options;

namespace NxMesh.Api.Platform;

/// <summary>
/// Outermost middleware: gives every request an id (X-Request-Id, log scope, <c>request_id</c>) and turns every
/// non-2xx without a body — exceptions, framework 401/404/405/413/415, bad JSON — into the spec's envelope.
/// </summary>
internal sealed partial class ErrorMiddleware(RequestDelegate next, ILogger<ErrorMiddleware> logger, IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions> json)
{
    public const string RequestIdHeader = "X-Request-Id";

    public async Task InvokeAsync(HttpContext context)
    {
        var requestId = "req_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));
        context.TraceIdentifier = requestId;
        context.Response.Headers[RequestIdHeader] = requestId;
        using var scope = logger.BeginScope(new Dictionary<string, object> { ["RequestId"] = requestId });
        try
        {
            await next(context);
        }
        catch (ApiException ex)
        {
            await WriteAsync(context, ex.Status, ex.Code, ex.Message, ex.Details, ex.Headers);
            return;
        }
        catch (BadHttpRequestException ex)
        {
            var (status, code, message, details) = Describe(ex);
            await WriteAsync(context, status, code, message, details, null);
            return;
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            return;
        }
        catch (Exception ex)
        {
            LogUnhandled(ex, context.Request.Method, context.Request.Path);
            await WriteAsync(context, 500, ErrorCodes.InternalError, "Server internal error", null, null);
            return;
        }
        var response = context.Response;
        if (response.StatusCode >= 400 && !response.HasStarted && response.ContentLength is null or 0 && response.ContentType is null)
        {
            var (code, message) = ErrorCodes.ForStatus(response.StatusCode);
            await WriteAsync(context, response.StatusCode, code, message, null, null);
        }
    }

    private static (int Status, string Code, string Message, IReadOnlyList<ErrorDetail>? Details) Describe(BadHttpRequestException ex)
    {
        if (ex.StatusCode is StatusCodes.Status413PayloadTooLarge)
        {
            return (413, ErrorCodes.PayloadTooLarge, $"Request body larger than {RequestLimits.MaxBodyBytes} bytes", null);
        }
        if (ex.StatusCode is StatusCodes.Status415UnsupportedMediaType)
        {
            return (415, ErrorCodes.UnsupportedMediaType, "Content-Type must be application/json", null);
        }
        if (ex.InnerException is JsonException jsonError)
        {
            var field = JsonPathToField(jsonError.Path);
            var message = jsonError.Message.Contains("could not be converted", StringComparison.Ordinal) || jsonError.Message.Contains("is invalid", StringComparison.Ordinal)
                ? $"Malformed JSON or wrong type at '{(field.Length == 0 ? "$" : field)}'"
                : "Malformed JSON";
            return (422, ErrorCodes.ValidationError, "Request validation failed",
                [new ErrorDetail(field.Length == 0 ? "body" : field, message, Nginx.Validation.ValidationCodes.InvalidFormat)]);
        }
        if (ex.Message.Contains("body was provided", StringComparison.OrdinalIgnoreCase) || ex.Message.Contains("body", StringComparison.OrdinalIgnoreCase) && ex.Message.Contains("empty", StringComparison.OrdinalIgnoreCase))
        {
            return (422, ErrorCodes.ValidationError, "Request validation failed",
                [new ErrorDetail("body", "A JSON request body is required", Nginx.Validation.ValidationCodes.Required)]);
        }
        return (422, ErrorCodes.ValidationError, "Request validation failed",
            [new ErrorDetail("request", ex.Message, Nginx.Validation.ValidationCodes.InvalidFormat)]);
    }

    /// <summary>"$.locations[0].path" → "locations[0].path".</summary>
    private static string JsonPathToField(string? path) =>
        string.IsNullOrEmpty(path) || path == "$" ? "" : path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : path.TrimStart('$');

    private async Task WriteAsync(HttpContext context, int status, string code, string message, IReadOnlyList<ErrorDetail>? details, Dictionary<string, string>? headers)
    {
        var response = context.Response;
        if (response.HasStarted)
        {
            return;
        }
        // Keep headers set on the way (Allow, WWW-Authenticate, X-RateLimit-*), drop a half-written body.
        response.StatusCode = status;
        response.ContentLength = null;
        response.Headers[RequestIdHeader] = context.TraceIdentifier;
        foreach (var (name, value) in headers ?? [])
        {
            response.Headers[name] = value;
        }
        var body = new ErrorResponse(new ErrorBody(code, message, context.TraceIdentifier, details ?? []));
        await response.WriteAsJsonAsync(body, json.Value.SerializerOptions, "application/json", context.RequestAborted);
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Unhandled exception on {Method} {Path}")]
    private partial void LogUnhandled(Exception ex, string method, string path);
}
