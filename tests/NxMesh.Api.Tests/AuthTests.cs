using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.IdentityModel.JsonWebTokens;
using Xunit;

namespace NxMesh.Api.Tests;

[Collection(ApiCollection.Name)]
public sealed class AuthTests(ApiFixture api) : IAsyncLifetime
{
    public Task InitializeAsync() => api.ResetAsync();
    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Login_answers_the_spec_shape_with_an_RS256_token_valid_for_an_hour()
    {
        await api.CreateUserAsync("user@example.com");
        var body = await (await api.Anonymous().PostAsJsonAsync("/v1/auth/login", new { email = "user@example.com", password = ApiFixture.DefaultPassword }))
            .JsonAsync(HttpStatusCode.OK);
        SpecExamples.AssertShape(SpecExamples.Response("Login"), body);
        Assert.Equal(3600, body.GetProperty("expires_in").GetInt32());
        Assert.Equal("Bearer", body.GetProperty("token_type").GetString());
        var jwt = new JsonWebToken(body.GetProperty("access_token").GetString());
        Assert.Equal("RS256", jwt.Alg);
        Assert.False(string.IsNullOrEmpty(jwt.Kid));
        Assert.InRange((jwt.ValidTo - jwt.ValidFrom).TotalSeconds, 3599, 3601);
    }

    [Fact]
    public async Task The_spec_login_request_is_accepted_as_written()
    {
        var request = SpecExamples.Request("Login");
        await api.CreateUserAsync(request.GetProperty("email").GetString()!, request.GetProperty("password").GetString()!);
        await (await api.Anonymous().PostAsJsonAsync("/v1/auth/login", request)).JsonAsync(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Wrong_password_and_unknown_email_answer_the_same_401()
    {
        await api.CreateUserAsync("user@example.com");
        var wrong = await (await api.Anonymous().PostAsJsonAsync("/v1/auth/login", new { email = "user@example.com", password = "nope-nope" })).ErrorAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        var unknown = await (await api.Anonymous().PostAsJsonAsync("/v1/auth/login", new { email = "ghost@example.com", password = "nope-nope" })).ErrorAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        Assert.Equal(wrong.GetProperty("message").GetString(), unknown.GetProperty("message").GetString());
    }

    [Fact]
    public async Task Missing_credentials_answer_422_with_required_details()
    {
        var error = await (await api.Anonymous().PostAsJsonAsync("/v1/auth/login", new { })).ErrorAsync(HttpStatusCode.UnprocessableEntity, "VALIDATION_ERROR");
        Assert.Contains(("email", "REQUIRED"), error.Details());
        Assert.Contains(("password", "REQUIRED"), error.Details());
    }

    [Fact]
    public async Task Failed_logins_are_throttled_with_429_and_retry_after()
    {
        await using var factory = api.CreateFactory(new Dictionary<string, string?> { ["Auth:MaxFailedLogins"] = "3" });
        await api.CreateUserAsync("user@example.com");
        var client = factory.CreateClient();
        for (var i = 0; i < 3; i++)
        {
            await (await client.PostAsJsonAsync("/v1/auth/login", new { email = "user@example.com", password = "wrong-" + i })).ErrorAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        }
        var blocked = await client.PostAsJsonAsync("/v1/auth/login", new { email = "user@example.com", password = ApiFixture.DefaultPassword });
        await blocked.ErrorAsync(HttpStatusCode.TooManyRequests, "RATE_LIMITED");
        Assert.True(int.Parse(Assert.Single(blocked.Headers.GetValues("Retry-After")), System.Globalization.CultureInfo.InvariantCulture) > 0);
    }

    [Fact]
    public async Task Refresh_rotates_and_reuse_of_a_rotated_token_revokes_the_family()
    {
        await api.CreateUserAsync("user@example.com");
        var client = api.Anonymous();
        var login = await (await client.PostAsJsonAsync("/v1/auth/login", new { email = "user@example.com", password = ApiFixture.DefaultPassword })).JsonAsync(HttpStatusCode.OK);
        var first = login.GetProperty("refresh_token").GetString();

        var refreshed = await (await client.PostAsJsonAsync("/v1/auth/refresh", new { refresh_token = first })).JsonAsync(HttpStatusCode.OK);
        SpecExamples.AssertShape(SpecExamples.Response("Login"), refreshed);
        var second = refreshed.GetProperty("refresh_token").GetString();
        Assert.NotEqual(first, second);

        // The rotated token again: reuse → 401 and the whole family (including the current token) is revoked.
        await (await client.PostAsJsonAsync("/v1/auth/refresh", new { refresh_token = first })).ErrorAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        await (await client.PostAsJsonAsync("/v1/auth/refresh", new { refresh_token = second })).ErrorAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");

        // Another login (another family) is unaffected.
        var other = await (await client.PostAsJsonAsync("/v1/auth/login", new { email = "user@example.com", password = ApiFixture.DefaultPassword })).JsonAsync(HttpStatusCode.OK);
        await (await client.PostAsJsonAsync("/v1/auth/refresh", new { refresh_token = other.GetProperty("refresh_token").GetString() })).JsonAsync(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Refresh_tokens_are_stored_only_as_hashes()
    {
        await api.CreateUserAsync("user@example.com");
        var login = await (await api.Anonymous().PostAsJsonAsync("/v1/auth/login", new { email = "user@example.com", password = ApiFixture.DefaultPassword })).JsonAsync(HttpStatusCode.OK);
        var token = login.GetProperty("refresh_token").GetString()!;
        await using var db = api.Database.CreateDbContext();
        var stored = await db.RefreshTokens.SingleAsync();
        Assert.Equal(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(token)), stored.TokenHash);
    }

    [Fact]
    public async Task Logout_revokes_the_family()
    {
        await api.CreateUserAsync("user@example.com");
        var client = api.Anonymous();
        var login = await (await client.PostAsJsonAsync("/v1/auth/login", new { email = "user@example.com", password = ApiFixture.DefaultPassword })).JsonAsync(HttpStatusCode.OK);
        var token = login.GetProperty("refresh_token").GetString();
        await (await client.PostAsJsonAsync("/v1/auth/logout", new { refresh_token = token })).JsonAsync(HttpStatusCode.NoContent);
        await (await client.PostAsJsonAsync("/v1/auth/refresh", new { refresh_token = token })).ErrorAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");
    }

    [Fact]
    public async Task Tokens_from_one_instance_are_valid_on_another()
    {
        await api.CreateUserAsync("user@example.com");
        var client = await api.LoginAsync("user@example.com");
        await using var other = api.CreateFactory();
        var otherClient = other.CreateClient();
        otherClient.DefaultRequestHeaders.Authorization = client.DefaultRequestHeaders.Authorization;
        var me = await (await otherClient.GetAsync("/v1/me")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal("user@example.com", me.GetProperty("email").GetString());
    }

    [Fact]
    public async Task A_rotated_signing_key_signs_new_tokens_while_old_tokens_stay_valid()
    {
        await api.CreateUserAsync("user@example.com");
        var oldClient = await api.LoginAsync("user@example.com");
        var oldKid = new JsonWebToken(oldClient.DefaultRequestHeaders.Authorization!.Parameter).Kid;
        await using (var db = api.Database.CreateDbContext())
        {
            // The key's signing period ends (as after SigningKeyRotationDays); it keeps validating.
            await db.SigningKeys.ExecuteUpdateAsync(s => s.SetProperty(k => k.SignUntil, DateTimeOffset.UtcNow.AddSeconds(-1)));
        }
        await using var fresh = api.CreateFactory();
        var newClient = await ApiFixture.LoginAsync(fresh, "user@example.com");
        var newKid = new JsonWebToken(newClient.DefaultRequestHeaders.Authorization!.Parameter).Kid;
        Assert.NotEqual(oldKid, newKid);
        await (await newClient.GetAsync("/v1/me")).JsonAsync(HttpStatusCode.OK);
        // Old token on the new instance, new token on the old instance.
        var crossOld = fresh.CreateClient();
        crossOld.DefaultRequestHeaders.Authorization = oldClient.DefaultRequestHeaders.Authorization;
        await (await crossOld.GetAsync("/v1/me")).JsonAsync(HttpStatusCode.OK);
        var crossNew = api.Anonymous();
        crossNew.DefaultRequestHeaders.Authorization = newClient.DefaultRequestHeaders.Authorization;
        await (await crossNew.GetAsync("/v1/me")).JsonAsync(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Signing_keys_are_stored_protected()
    {
        await api.CreateUserAsync("user@example.com");
        await api.LoginAsync("user@example.com");
        await using var db = api.Database.CreateDbContext();
        var keys = await db.SigningKeys.ToListAsync();
        Assert.NotEmpty(keys);
        Assert.All(keys, key =>
        {
            Assert.DoesNotContain("PRIVATE KEY", key.PrivateKeyProtected, StringComparison.Ordinal);
            Assert.Contains("PUBLIC KEY", key.PublicKeyPem, StringComparison.Ordinal);
        });
    }

    [Fact]
    public async Task One_time_password_users_must_change_it_before_anything_else()
    {
        var (_, owner) = await api.NewUserAsync("owner@example.com");
        var org = await (await owner.PostAsJsonAsync("/v1/organizations", new { name = "Acme", slug = "acme" })).JsonAsync(HttpStatusCode.Created);
        var added = await (await owner.PostAsJsonAsync($"/v1/organizations/{org.GetProperty("id")}/members", new { email = "new@example.com", role = "viewer" }))
            .JsonAsync(HttpStatusCode.Created);
        var otp = added.GetProperty("one_time_password").GetString()!;

        var client = await api.LoginAsync("new@example.com", otp);
        var blocked = await (await client.GetAsync("/v1/organizations")).ErrorAsync(HttpStatusCode.Forbidden, "FORBIDDEN");
        Assert.Contains(blocked.Details(), d => d.Code == "PASSWORD_CHANGE_REQUIRED");
        var me = await (await client.GetAsync("/v1/me")).JsonAsync(HttpStatusCode.OK);
        Assert.True(me.GetProperty("must_change_password").GetBoolean());

        var changed = await (await client.PostAsJsonAsync("/v1/auth/password", new { current_password = otp, new_password = "a-brand-new-password" })).JsonAsync(HttpStatusCode.OK);
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", changed.GetProperty("access_token").GetString());
        var list = await (await client.GetAsync("/v1/organizations")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(1, list.GetProperty("meta").GetProperty("total").GetInt32());
        await api.LoginAsync("new@example.com", "a-brand-new-password");
        await (await api.Anonymous().PostAsJsonAsync("/v1/auth/login", new { email = "new@example.com", password = otp })).ErrorAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");
    }

    [Fact]
    public async Task Password_change_checks_the_current_password_and_length()
    {
        var (_, client) = await api.NewUserAsync("user@example.com");
        var wrong = await (await client.PostAsJsonAsync("/v1/auth/password", new { current_password = "wrong-password", new_password = "another-password" })).ErrorAsync(HttpStatusCode.UnprocessableEntity, "VALIDATION_ERROR");
        Assert.Contains(wrong.Details(), d => d.Field == "current_password");
        var tooShort = await (await client.PostAsJsonAsync("/v1/auth/password", new { current_password = ApiFixture.DefaultPassword, new_password = "short" })).ErrorAsync(HttpStatusCode.UnprocessableEntity, "VALIDATION_ERROR");
        Assert.Contains(("new_password", "OUT_OF_RANGE"), tooShort.Details());
    }

    [Fact]
    public async Task Me_lists_organizations_with_roles()
    {
        var (_, client) = await api.NewUserAsync("user@example.com");
        await (await client.PostAsJsonAsync("/v1/organizations", new { name = "Acme", slug = "acme" })).JsonAsync(HttpStatusCode.Created);
        var me = await (await client.GetAsync("/v1/me")).JsonAsync(HttpStatusCode.OK);
        var organization = Assert.Single(me.GetProperty("organizations").EnumerateArray().ToList());
        Assert.Equal("owner", organization.GetProperty("role").GetString());
        Assert.Equal(JsonValueKind.False, me.GetProperty("must_change_password").ValueKind);
    }
}
