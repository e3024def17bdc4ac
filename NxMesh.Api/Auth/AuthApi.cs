using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using NxMesh.Api.Platform;
using NxMesh.Data;

namespace NxMesh.Api.Auth;

public sealed record LoginRequest(string? Email, string? Password);
public sealed record RefreshRequest(string? RefreshToken);
public sealed record ChangePasswordRequest(string? CurrentPassword, string? NewPassword);

public static class AuthApi
{
    public static RouteGroupBuilder MapAuthApi(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/auth").WithTags("Auth").ProducesErrors(401, 422, 429);
        group.MapPost("/login", LoginAsync).AllowAnonymous().WithName("Login").WithSummary("Exchange email and password for tokens");
        group.MapPost("/refresh", RefreshAsync).AllowAnonymous().WithName("RefreshToken")
            .WithSummary("Rotate a refresh token; a rotated token presented again revokes its family");
        group.MapPost("/logout", LogoutAsync).AllowAnonymous().WithName("Logout").WithSummary("Revoke the refresh token's family");
        group.MapPost("/password", ChangePasswordAsync).RequireAuthorization().WithName("ChangePassword")
            .WithSummary("Set a new password (required after a one-time password); answers a fresh token pair");
        return group;
    }

    private static async Task<Ok<TokenResponse>> LoginAsync(LoginRequest request, NxMeshDbContext db, Passwords passwords, TokenService tokens,
        LoginThrottle throttle, HttpContext context, CancellationToken cancellationToken)
    {
        var v = new Validator();
        v.Required("email", request.Email);
        v.Required("password", request.Password);
        v.ThrowIfInvalid();
        var email = request.Email!.Trim().ToLowerInvariant();
        var ip = context.Connection.RemoteIpAddress?.ToString() ?? "unknown";
        await throttle.EnsureAllowedAsync(email, ip);
        var user = await db.Users.SingleOrDefaultAsync(u => u.Email == email, cancellationToken);
        if (!passwords.Verify(user, request.Password!) || user!.IsDisabled)
        {
            await throttle.RecordFailureAsync(email, ip);
            throw ApiException.Unauthorized("Invalid email or password");
        }
        await throttle.RecordSuccessAsync(email);
        user.LastLoginAt = DateTimeOffset.UtcNow;
        return TypedResults.Ok(await tokens.IssueAsync(user, null, cancellationToken));
    }

    private static async Task<Ok<TokenResponse>> RefreshAsync(RefreshRequest request, TokenService tokens, CancellationToken cancellationToken)
    {
        var v = new Validator();
        v.Required("refresh_token", request.RefreshToken);
        v.ThrowIfInvalid();
        return TypedResults.Ok(await tokens.RefreshAsync(request.RefreshToken!, cancellationToken)
            ?? throw ApiException.Unauthorized("Invalid, expired or revoked refresh token"));
    }

    private static async Task<NoContent> LogoutAsync(RefreshRequest request, TokenService tokens, CancellationToken cancellationToken)
    {
        var v = new Validator();
        v.Required("refresh_token", request.RefreshToken);
        v.ThrowIfInvalid();
        // Unknown tokens answer 204 too: logout reveals nothing about which tokens exist.
        await tokens.RevokeFamilyAsync(request.RefreshToken!, cancellationToken);
        return TypedResults.NoContent();
    }

    private static async Task<Ok<TokenResponse>> ChangePasswordAsync(ChangePasswordRequest request, NxMeshDbContext db, Passwords passwords,
        TokenService tokens, CurrentUser current, IOptions<AuthOptions> options, CancellationToken cancellationToken)
    {
        var v = new Validator();
        v.Required("current_password", request.CurrentPassword);
        if (v.Required("new_password", request.NewPassword) && request.NewPassword!.Length < options.Value.MinPasswordLength)
        {
            v.Add("new_password", Nginx.Validation.ValidationCodes.OutOfRange, $"new_password must be at least {options.Value.MinPasswordLength} characters");
        }
        if (request.NewPassword is { Length: > 1024 })
        {
            v.Add("new_password", Nginx.Validation.ValidationCodes.OutOfRange, "new_password must be at most 1024 characters");
        }
        if (request.NewPassword is not null && request.NewPassword == request.CurrentPassword)
        {
            v.Add("new_password", Nginx.Validation.ValidationCodes.NotAllowed, "new_password must differ from current_password");
        }
        v.ThrowIfInvalid();
        var userId = current.Id;
        var user = await db.Users.SingleOrDefaultAsync(u => u.Id == userId, cancellationToken) ?? throw ApiException.Unauthorized();
        if (!passwords.Verify(user, request.CurrentPassword!))
        {
            throw ApiException.Validation("current_password", Nginx.Validation.ValidationCodes.InvalidFormat, "current_password is not correct");
        }
        user.PasswordHash = passwords.Hash(user, request.NewPassword!);
        user.MustChangePassword = false;
        // Other sessions end: their refresh tokens were issued under the old password.
        await tokens.RevokeAllAsync(user.Id, cancellationToken);
        return TypedResults.Ok(await tokens.IssueAsync(user, null, cancellationToken));
    }
}
