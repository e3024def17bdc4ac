using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Mvc.Testing;
using Npgsql;
using NxMesh.Data.Entities;
using NxMesh.Testing;
using StackExchange.Redis;
using Xunit;

namespace NxMesh.Api.Tests;

[CollectionDefinition(Name)]
public sealed class ApiCollection : ICollectionFixture<ApiFixture>
{
    public const string Name = "api";
}

/// <summary>
/// Real Postgres + Redis (started once per collection) and the Api hosted by <see cref="ApiFactory"/>.
/// <see cref="ResetAsync"/> empties the database and Redis between tests. Reusable by later Api test classes.
/// </summary>
public sealed class ApiFixture : IAsyncLifetime
{
    public const string DefaultPassword = "correct-horse-battery";

    public DatabaseFixture Database { get; } = new();
    public string KeyEncryptionKey { get; } = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
    public ApiFactory Factory { get; private set; } = null!;
    private ConnectionMultiplexer? _redis;

    public async Task InitializeAsync()
    {
        await Database.InitializeAsync();
        _redis = await ConnectionMultiplexer.ConnectAsync(Database.RedisConnectionString + ",allowAdmin=true");
        Factory = CreateFactory();
    }

    /// <summary>Another Api instance on the same Postgres and Redis (the caller disposes it).</summary>
    public ApiFactory CreateFactory(IDictionary<string, string?>? settings = null) => new(this, settings);

    /// <summary>
    /// Empties the application tables and Redis. The key tables (Data Protection, JWT signing keys) and the
    /// Quartz tables stay: every Api instance keeps its cached keys valid, and no test pays for a new RSA key.
    /// </summary>
    public async Task ResetAsync()
    {
        await using (var connection = new NpgsqlConnection(Database.ConnectionString))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("""
                DO $$ DECLARE tables text;
                BEGIN
                  SELECT string_agg(format('%I', tablename), ', ') INTO tables FROM pg_tables
                  WHERE schemaname = 'public' AND tablename NOT IN ('__EFMigrationsHistory', 'data_protection_keys', 'signing_keys')
                    AND tablename NOT LIKE 'qrtz%';
                  EXECUTE 'TRUNCATE ' || tables || ' RESTART IDENTITY CASCADE';
                END $$;
                """, connection);
            await command.ExecuteNonQueryAsync();
        }
        await _redis!.GetServer(_redis.GetEndPoints()[0]).FlushAllDatabasesAsync();
    }

    public async Task DisposeAsync()
    {
        await Factory.DisposeAsync();
        _redis?.Dispose();
        await Database.DisposeAsync();
    }

    public HttpClient Anonymous() => Factory.CreateClient();

    /// <summary>Creates a user directly in the database (no API involved).</summary>
    public async Task<User> CreateUserAsync(string email, string password = DefaultPassword, bool mustChangePassword = false)
    {
        await using var db = Database.CreateDbContext();
        var user = new User { Email = email, PasswordHash = "", MustChangePassword = mustChangePassword };
        user.PasswordHash = new PasswordHasher<User>().HashPassword(user, password);
        db.Users.Add(user);
        await db.SaveChangesAsync();
        return user;
    }

    public Task<HttpClient> LoginAsync(string email, string password = DefaultPassword) => LoginAsync(Factory, email, password);

    public static async Task<HttpClient> LoginAsync(ApiFactory factory, string email, string password = DefaultPassword)
    {
        var client = factory.CreateClient();
        var response = await client.PostAsJsonAsync("/v1/auth/login", new { email, password });
        response.EnsureSuccessStatusCode();
        var tokens = await response.Content.ReadFromJsonAsync<JsonElement>();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", tokens.GetProperty("access_token").GetString());
        return client;
    }

    /// <summary>A new user logged in with a bearer client.</summary>
    public async Task<(User User, HttpClient Client)> NewUserAsync(string email)
    {
        var user = await CreateUserAsync(email);
        return (user, await LoginAsync(email));
    }
}

/// <summary>
/// Hosts NxMesh.Api's Program. The type argument only names the assembly: <c>Program</c> itself is ambiguous here,
/// because the fixtures library references the AppHost, which has a Program too.
/// </summary>
public sealed class ApiFactory(ApiFixture fixture, IDictionary<string, string?>? settings) : WebApplicationFactory<Platform.ErrorResponse>
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        builder.UseSetting("ConnectionStrings:nxmesh", fixture.Database.ConnectionString);
        builder.UseSetting("ConnectionStrings:redis", fixture.Database.RedisConnectionString);
        builder.UseSetting("DataProtection:KeyEncryptionKey", fixture.KeyEncryptionKey);
        // Functional tests make many requests; the rate-limit tests set their own limit.
        builder.UseSetting("RateLimiting:PermitLimit", "1000000");
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            builder.UseSetting(key, value);
        }
    }
}
