namespace NxMesh.Nginx.Validation;

/// <summary>
/// HTTP-01 challenges rendered as <c>location = /.well-known/acme-challenge/&lt;token&gt;</c>: the token is base64url
/// (RFC 8555 §8.3) and the key authorization is <c>token "." base64url(SHA-256 JWK thumbprint)</c>, so neither can
/// carry anything but those characters into nginx config.
/// </summary>
public static class AcmeChallenges
{
    public const string PathPrefix = "/.well-known/acme-challenge/";
    public const int MaxTokenLength = 128;
    /// <summary>base64url of a SHA-256 digest, unpadded.</summary>
    public const int ThumbprintLength = 43;

    public static IReadOnlyList<ValidationIssue> Validate(string token, string keyAuthorization, string field)
    {
        var issues = new List<ValidationIssue>();
        if (token.Length is 0 or > MaxTokenLength || !token.All(IsBase64Url))
        {
            issues.Add(new(field + ".token", ValidationCodes.InvalidFormat, $"token is 1–{MaxTokenLength} base64url characters (A–Z, a–z, 0–9, '-', '_')"));
            return issues;
        }
        var thumbprint = keyAuthorization.StartsWith(token + ".", StringComparison.Ordinal) ? keyAuthorization[(token.Length + 1)..] : null;
        if (thumbprint is null || thumbprint.Length != ThumbprintLength || !thumbprint.All(IsBase64Url))
        {
            issues.Add(new(field + ".key_authorization", ValidationCodes.InvalidFormat, "key_authorization is the token, '.', and a base64url SHA-256 thumbprint"));
        }
        return issues;
    }

    private static bool IsBase64Url(char c) => char.IsAsciiLetterOrDigit(c) || c is '-' or '_';
}
