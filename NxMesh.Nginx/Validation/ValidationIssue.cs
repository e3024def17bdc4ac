namespace NxMesh.Nginx.Validation;

/// <summary>
/// One problem with a value that would reach nginx; the Api turns these into the error envelope's <c>details[]</c>.
/// </summary>
/// <param name="Field">The JSON path of the offending field, e.g. <c>locations[0].custom_headers[1].value</c>.</param>
/// <param name="Code">One of <see cref="ValidationCodes"/>.</param>
/// <param name="Message">A sentence an operator can act on.</param>
public sealed record ValidationIssue(string Field, string Code, string Message);

/// <summary>The documented set of <c>details[].code</c> values.</summary>
public static class ValidationCodes
{
    public const string Required = "REQUIRED";
    public const string InvalidFormat = "INVALID_FORMAT";
    public const string OutOfRange = "OUT_OF_RANGE";
    public const string NotFound = "NOT_FOUND";
    public const string Conflict = "CONFLICT";
    public const string NotAllowed = "NOT_ALLOWED";
}
