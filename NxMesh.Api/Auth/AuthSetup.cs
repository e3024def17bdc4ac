using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using NxMesh.Api.Platform;

namespace NxMesh.Api.Auth;

internal static class AuthSetup
{
    public static void AddNxMeshAuth(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<AuthOptions>().Bind(builder.Configuration.GetSection(AuthOptions.SectionName));
        builder.Services.AddSingleton<SigningKeyStore>();
        builder.Services.AddSingleton<ValidatedTokenCache>();
        builder.Services.AddSingleton<Passwords>();
        builder.Services.AddSingleton<LoginThrottle>();
        builder.Services.AddScoped<TokenService>();
        builder.Services.AddAuthorization();
        builder.Services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer();
        builder.Services.AddOptions<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme).Configure<SigningKeyStore, ValidatedTokenCache>((jwt, keys, validated) =>
        {
            jwt.MapInboundClaims = false;
            jwt.TokenValidationParameters = new TokenValidationParameters
            {
                ValidIssuer = AuthOptions.Issuer,
                ValidAudience = AuthOptions.Audience,
                ValidAlgorithms = [SecurityAlgorithms.RsaSha256],
                ClockSkew = TimeSpan.FromSeconds(30),
                NameClaimType = CurrentUser.EmailClaim,
                IssuerSigningKeyResolver = (_, _, kid, _) => keys.ValidationKeys(kid),
            };
            jwt.Events = new JwtBearerEvents
            {
                OnMessageReceived = async context =>
                {
                    var header = context.Request.Headers.Authorization.ToString();
                    if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
                    {
                        return;
                    }
                    var raw = header["Bearer ".Length..].Trim();
                    if (validated.Find(raw) is { } principal)
                    {
                        context.Principal = principal;
                        context.Success();
                        return;
                    }
                    // A token signed by a key another instance created: load the public keys before validation.
                    var handler = new JsonWebTokenHandler();
                    if (handler.CanReadToken(raw) && handler.ReadJsonWebToken(raw).Kid is { } kid && !keys.KnowsKey(kid))
                    {
                        await keys.RefreshAsync(context.HttpContext.RequestAborted);
                    }
                },
                OnTokenValidated = context =>
                {
                    if (context.SecurityToken is JsonWebToken token && context.Principal is { } principal)
                    {
                        validated.Add(token.EncodedToken, principal, new DateTimeOffset(token.ValidTo, TimeSpan.Zero));
                    }
                    return Task.CompletedTask;
                },
            };
        });
    }

    /// <summary>Until a one-time password is replaced, everything but /auth/* and /me answers 403.</summary>
    public static TBuilder RequirePasswordChanged<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilter(async (context, next) =>
        {
            if (context.HttpContext.User.FindFirst(CurrentUser.PasswordChangeClaim)?.Value == "true")
            {
                throw new ApiException(403, ErrorCodes.Forbidden, "Set a new password with POST /v1/auth/password first",
                    [new ErrorDetail("password", "The one-time password must be replaced before using the API", ErrorCodes.PasswordChangeRequired)]);
            }
            return await next(context);
        });
}
