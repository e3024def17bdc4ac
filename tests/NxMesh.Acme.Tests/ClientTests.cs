using System.Diagnostics;
using System.Net;
using Xunit;

namespace NxMesh.Acme.Tests;

public sealed class ClientTests : IDisposable
{
    private readonly FakeAcmeHandler _server = new();
    private readonly HttpClient _http;
    private readonly System.Security.Cryptography.ECDsa _key = AcmeAccountKey.Create();

    public ClientTests() => _http = new HttpClient(_server);

    public void Dispose()
    {
        _http.Dispose();
        _key.Dispose();
    }

    private AcmeClient Client(AcmePolling? polling = null) => new(_http, FakeAcmeHandler.Directory, _key, polling);

    private static string Authz(string status, string challengeStatus = "pending", string? error = null) => $$"""
        {"status":"{{status}}","identifier":{"type":"dns","value":"a.test"},
         "challenges":[{"type":"http-01","url":"{{FakeAcmeHandler.Base}}/chall/1","status":"{{challengeStatus}}","token":"tok_1"{{(error is null ? "" : ",\"error\":" + error)}}}]}
        """;

    [Fact]
    public async Task Bad_nonce_is_retried_once_with_the_nonce_of_the_rejection()
    {
        _server.On("/account", () => FakeAcmeHandler.Problem("badNonce", "JWS has an invalid anti-replay nonce"));
        _server.On("/account", () => FakeAcmeHandler.Json(HttpStatusCode.Created, """{"status":"valid"}""", location: "/acct/1"));

        var account = await Client().EnsureAccountAsync(["ops@a.test"], CancellationToken.None);

        Assert.Equal(FakeAcmeHandler.Base + "/acct/1", account);
        Assert.Equal(2, _server.Posts.Count);
        Assert.Equal(1, _server.NonceRequests);
        // The rejection carried nonce-2 (the HEAD answered nonce-1); the retry must use it, not fetch another.
        Assert.Equal("nonce-1", _server.Posts[0].Header.GetProperty("nonce").GetString());
        Assert.Equal("nonce-2", _server.Posts[1].Header.GetProperty("nonce").GetString());
        Assert.True(_server.Posts[1].Header.TryGetProperty("jwk", out _));
        Assert.Contains("\"termsOfServiceAgreed\":true", _server.Posts[1].Payload, StringComparison.Ordinal);
        Assert.Contains("mailto:ops@a.test", _server.Posts[1].Payload, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_second_bad_nonce_is_an_error()
    {
        _server.On("/account", () => FakeAcmeHandler.Problem("badNonce", "first"));
        _server.On("/account", () => FakeAcmeHandler.Problem("badNonce", "second"));

        var error = await Assert.ThrowsAsync<AcmeException>(() => Client().EnsureAccountAsync(null, CancellationToken.None));

        Assert.Equal("ACME newAccount failed: badNonce: second", error.Message);
        Assert.Equal(AcmeProblem.BadNonce, error.Problem!.Type);
    }

    [Fact]
    public async Task Requests_after_the_account_use_kid_and_server_errors_read_as_type_and_detail()
    {
        _server.On("/account", () => FakeAcmeHandler.Json(HttpStatusCode.OK, "{}", location: "/acct/9"));
        _server.On("/order", () => FakeAcmeHandler.Problem("rateLimited", "too many new orders recently", HttpStatusCode.TooManyRequests));
        var client = Client();
        await client.EnsureAccountAsync(null, CancellationToken.None);

        var error = await Assert.ThrowsAsync<AcmeException>(() => client.NewOrderAsync(["a.test"], CancellationToken.None));

        Assert.Equal("ACME newOrder failed: rateLimited: too many new orders recently", error.Message);
        Assert.Equal(HttpStatusCode.TooManyRequests, error.StatusCode);
        Assert.Equal(FakeAcmeHandler.Base + "/acct/9", _server.Posts[1].Header.GetProperty("kid").GetString());
        Assert.False(_server.Posts[1].Header.TryGetProperty("jwk", out _));
        Assert.Equal("""{"identifiers":[{"type":"dns","value":"a.test"}]}""", _server.Posts[1].Payload);
    }

    [Fact]
    public async Task Authorization_polling_waits_what_retry_after_asks()
    {
        _server.On("/account", () => FakeAcmeHandler.Json(HttpStatusCode.Created, "{}", location: "/acct/1"));
        _server.On("/authz/1", () => FakeAcmeHandler.Json(HttpStatusCode.OK, Authz("pending"), retryAfter: "1"));
        _server.On("/authz/1", () => FakeAcmeHandler.Json(HttpStatusCode.OK, Authz("valid", "valid")));
        var client = Client(new AcmePolling(TimeSpan.FromMilliseconds(10), TimeSpan.FromSeconds(30)));
        await client.EnsureAccountAsync(null, CancellationToken.None);

        var watch = Stopwatch.StartNew();
        var authorization = await client.WaitForAuthorizationAsync(new Uri(FakeAcmeHandler.Base + "/authz/1"), TimeSpan.FromSeconds(10), CancellationToken.None);

        Assert.Equal("valid", authorization.Status);
        Assert.InRange(watch.Elapsed, TimeSpan.FromMilliseconds(950), TimeSpan.FromSeconds(5));
        Assert.Equal("", _server.Posts[^1].Payload);
    }

    [Fact]
    public async Task Retry_after_is_capped_and_the_wait_is_bounded()
    {
        _server.On("/account", () => FakeAcmeHandler.Json(HttpStatusCode.Created, "{}", location: "/acct/1"));
        for (var i = 0; i < 100; i++)
        {
            _server.On("/authz/1", () => FakeAcmeHandler.Json(HttpStatusCode.OK, Authz("pending"), retryAfter: "3600"));
        }
        var client = Client(new AcmePolling(TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(200)));
        await client.EnsureAccountAsync(null, CancellationToken.None);

        var watch = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<AcmeException>(() =>
            client.WaitForAuthorizationAsync(new Uri(FakeAcmeHandler.Base + "/authz/1"), TimeSpan.FromSeconds(1), CancellationToken.None));

        Assert.InRange(watch.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(3));
        Assert.Contains("Gave up waiting for the authorization of a.test", error.Message, StringComparison.Ordinal);
        Assert.InRange(_server.Posts.Count(p => p.Path == "/authz/1"), 3, 7);
    }

    [Fact]
    public async Task Invalid_authorization_reports_the_challenge_error()
    {
        _server.On("/account", () => FakeAcmeHandler.Json(HttpStatusCode.Created, "{}", location: "/acct/1"));
        _server.On("/authz/1", () => FakeAcmeHandler.Json(HttpStatusCode.OK,
            Authz("invalid", "invalid", """{"type":"urn:ietf:params:acme:error:connection","detail":"127.0.0.2: Connection refused","status":400}""")));
        var client = Client();
        await client.EnsureAccountAsync(null, CancellationToken.None);

        var error = await Assert.ThrowsAsync<AcmeException>(() =>
            client.WaitForAuthorizationAsync(new Uri(FakeAcmeHandler.Base + "/authz/1"), TimeSpan.FromSeconds(5), CancellationToken.None));

        Assert.Equal("The authorization of a.test is invalid: connection: 127.0.0.2: Connection refused", error.Message);
    }

    [Fact]
    public async Task Order_flow_answers_the_challenge_finalizes_with_the_csr_and_downloads_the_chain()
    {
        const string Chain = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        _server.On("/account", () => FakeAcmeHandler.Json(HttpStatusCode.Created, "{}", location: "/acct/1"));
        _server.On("/order", () => FakeAcmeHandler.Json(HttpStatusCode.Created,
            $$"""{"status":"pending","authorizations":["{{FakeAcmeHandler.Base}}/authz/1"],"finalize":"{{FakeAcmeHandler.Base}}/order/1/finalize"}""", location: "/order/1"));
        _server.On("/authz/1", () => FakeAcmeHandler.Json(HttpStatusCode.OK, Authz("pending")));
        _server.On("/chall/1", () => FakeAcmeHandler.Json(HttpStatusCode.OK, $$"""{"type":"http-01","url":"{{FakeAcmeHandler.Base}}/chall/1","status":"processing","token":"tok_1"}"""));
        _server.On("/order/1/finalize", () => FakeAcmeHandler.Json(HttpStatusCode.OK,
            $$"""{"status":"processing","authorizations":[],"finalize":"{{FakeAcmeHandler.Base}}/order/1/finalize"}""", retryAfter: "0"));
        _server.On("/order/1", () => FakeAcmeHandler.Json(HttpStatusCode.OK,
            $$"""{"status":"valid","authorizations":[],"finalize":"{{FakeAcmeHandler.Base}}/order/1/finalize","certificate":"{{FakeAcmeHandler.Base}}/cert/1"}"""));
        _server.On("/cert/1", () => FakeAcmeHandler.Json(HttpStatusCode.OK, Chain, contentType: "application/pem-certificate-chain"));
        var client = Client(new AcmePolling(TimeSpan.FromMilliseconds(10), TimeSpan.FromSeconds(1)));
        await client.EnsureAccountAsync(null, CancellationToken.None);

        var order = await client.NewOrderAsync(["a.test"], CancellationToken.None);
        var authorization = await client.GetAuthorizationAsync(order.Authorizations[0], CancellationToken.None);
        var challenge = await client.RespondAsync(authorization.Http01!, CancellationToken.None);
        using var certificateKey = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
        var valid = await client.FinalizeAsync(order, AcmeCsr.Create(["a.test"], certificateKey), TimeSpan.FromSeconds(5), CancellationToken.None);
        var pem = await client.DownloadCertificateAsync(valid, CancellationToken.None);

        Assert.Equal("tok_1", challenge.Token);
        Assert.Equal("{}", _server.Posts.Single(p => p.Path == "/chall/1").Payload);
        Assert.Contains("\"csr\":", _server.Posts.Single(p => p.Path == "/order/1/finalize").Payload, StringComparison.Ordinal);
        Assert.Equal(Chain, pem);
        Assert.Equal("tok_1." + AcmeJwk.Thumbprint(_key), client.KeyAuthorization("tok_1"));
        // Every request after the first used the nonce of the answer before it: one HEAD for the whole flow.
        Assert.Equal(1, _server.NonceRequests);
    }
}
