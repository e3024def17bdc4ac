using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using NxMesh.Api.Tests.Config;
using Xunit;

namespace NxMesh.Api.Tests.Certificates;

/// <summary>Certificate details, forced renewal, custom uploads that do not fit, and virtual hosts waiting for a certificate.</summary>
[Collection(ApiCollection.Name)]
public sealed class CertificateDetailsTests(ApiFixture api) : IAsyncLifetime
{
    public Task InitializeAsync() => api.ResetAsync();
    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Get_adds_issuer_validity_sans_fingerprint_and_last_error()
    {
        var tenant = await ConfigTestSupport.NewTenantAsync(api, "details@example.com");
        var (pem, key) = TestPems.Create("shop.example.test", DateTimeOffset.UtcNow.AddDays(60));
        var id = (await (await tenant.Client.PostAsJsonAsync(tenant.Ws("certificates"), new { domain = "shop.example.test", provider = "custom", certificate_pem = pem, private_key_pem = key }))
            .JsonAsync(HttpStatusCode.Created)).GetProperty("id").GetGuid();

        var detail = await (await tenant.Client.GetAsync($"/v1/certificates/{id}")).JsonAsync(HttpStatusCode.OK);

        using var parsed = X509Certificate2.CreateFromPem(pem);
        Assert.Equal("CN=shop.example.test", detail.GetProperty("issuer").GetString());
        Assert.Equal(["shop.example.test"], detail.GetProperty("sans").EnumerateArray().Select(s => s.GetString()));
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(parsed.RawData)), detail.GetProperty("fingerprint_sha256").GetString());
        Assert.Equal(new DateTimeOffset(parsed.NotBefore.ToUniversalTime()), detail.GetProperty("not_before").GetDateTimeOffset());
        Assert.Equal(new DateTimeOffset(parsed.NotAfter.ToUniversalTime()), detail.GetProperty("expires_at").GetDateTimeOffset());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, detail.GetProperty("last_error").ValueKind);
        Assert.DoesNotContain("PRIVATE KEY", detail.GetRawText(), StringComparison.Ordinal);

        var pending = (await (await tenant.Client.PostAsJsonAsync(tenant.Ws("certificates"), new { domain = "new.example.test", provider = "letsencrypt" }))
            .JsonAsync(HttpStatusCode.Created)).GetProperty("id").GetGuid();
        var waiting = await (await tenant.Client.GetAsync($"/v1/certificates/{pending}")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal("pending", waiting.GetProperty("status").GetString());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, waiting.GetProperty("fingerprint_sha256").ValueKind);
        Assert.Empty(waiting.GetProperty("sans").EnumerateArray());
    }

    [Fact]
    public async Task Custom_with_a_key_that_does_not_match_or_a_domain_not_covered_is_422()
    {
        var tenant = await ConfigTestSupport.NewTenantAsync(api, "custom@example.com");
        var (pem, _) = TestPems.Create("a.example.test", DateTimeOffset.UtcNow.AddDays(60));
        var (_, otherKey) = TestPems.Create("a.example.test", DateTimeOffset.UtcNow.AddDays(60));
        var mismatch = await (await tenant.Client.PostAsJsonAsync(tenant.Ws("certificates"), new { domain = "a.example.test", provider = "custom", certificate_pem = pem, private_key_pem = otherKey }))
            .ErrorAsync(HttpStatusCode.UnprocessableEntity, "VALIDATION_ERROR");
        Assert.Contains(mismatch.GetProperty("details").EnumerateArray(), d => d.GetProperty("field").GetString() == "private_key_pem");

        var (pemB, keyB) = TestPems.Create("b.example.test", DateTimeOffset.UtcNow.AddDays(60));
        var uncovered = await (await tenant.Client.PostAsJsonAsync(tenant.Ws("certificates"), new { domain = "a.example.test", provider = "custom", certificate_pem = pemB, private_key_pem = keyB }))
            .ErrorAsync(HttpStatusCode.UnprocessableEntity, "VALIDATION_ERROR");
        Assert.Contains(uncovered.GetProperty("details").EnumerateArray(), d => d.GetProperty("field").GetString() == "domain");
    }

    [Fact]
    public async Task Renew_reissues_self_signed_at_once_queues_letsencrypt_and_refuses_custom()
    {
        var tenant = await ConfigTestSupport.NewTenantAsync(api, "renew@example.com");
        var selfSigned = await ConfigTestSupport.CreateSelfSignedAsync(tenant, "self.example.test");
        var before = await (await tenant.Client.GetAsync($"/v1/certificates/{selfSigned}")).JsonAsync(HttpStatusCode.OK);
        var renewed = await (await tenant.Client.PostAsync($"/v1/certificates/{selfSigned}/renew", null)).JsonAsync(HttpStatusCode.OK);
        Assert.Equal("active", renewed.GetProperty("status").GetString());
        Assert.NotEqual(before.GetProperty("fingerprint_sha256").GetString(), renewed.GetProperty("fingerprint_sha256").GetString());

        var letsencrypt = (await (await tenant.Client.PostAsJsonAsync(tenant.Ws("certificates"), new { domain = "le.example.test", provider = "letsencrypt" }))
            .JsonAsync(HttpStatusCode.Created)).GetProperty("id").GetGuid();
        var queued = await (await tenant.Client.PostAsync($"/v1/certificates/{letsencrypt}/renew", null)).JsonAsync(HttpStatusCode.Accepted);
        Assert.Equal("pending", queued.GetProperty("status").GetString());

        var (pem, key) = TestPems.Create("up.example.test", DateTimeOffset.UtcNow.AddDays(60));
        var custom = (await (await tenant.Client.PostAsJsonAsync(tenant.Ws("certificates"), new { domain = "up.example.test", provider = "custom", certificate_pem = pem, private_key_pem = key }))
            .JsonAsync(HttpStatusCode.Created)).GetProperty("id").GetGuid();
        await (await tenant.Client.PostAsync($"/v1/certificates/{custom}/renew", null)).ErrorAsync(HttpStatusCode.Conflict, "CONFLICT");
    }

    [Fact]
    public async Task A_tls_virtual_host_on_a_pending_certificate_is_reported_waiting()
    {
        var tenant = await ConfigTestSupport.NewTenantAsync(api, "waiting@example.com");
        var pending = (await (await tenant.Client.PostAsJsonAsync(tenant.Ws("certificates"), new { domain = "wait.example.test", provider = "letsencrypt" }))
            .JsonAsync(HttpStatusCode.Created)).GetProperty("id").GetGuid();
        var active = await ConfigTestSupport.CreateSelfSignedAsync(tenant, "ready.example.test");

        var waiting = await (await tenant.Client.PostAsJsonAsync(tenant.Ws("virtual-hosts"),
            new { name = "wait", server_name = "wait.example.test", listen_port = 443, ssl_enabled = true, ssl_certificate_id = pending })).JsonAsync(HttpStatusCode.Created);
        Assert.True(waiting.GetProperty("waiting_for_certificate").GetBoolean());
        var ready = await (await tenant.Client.PostAsJsonAsync(tenant.Ws("virtual-hosts"),
            new { name = "ready", server_name = "ready.example.test", listen_port = 443, ssl_enabled = true, ssl_certificate_id = active })).JsonAsync(HttpStatusCode.Created);
        Assert.False(ready.GetProperty("waiting_for_certificate").GetBoolean());

        var patched = await (await tenant.Client.PatchAsJsonAsync($"/v1/virtual-hosts/{ready.GetProperty("id").GetGuid()}", new { ssl_certificate_id = pending })).JsonAsync(HttpStatusCode.OK);
        Assert.True(patched.GetProperty("waiting_for_certificate").GetBoolean());
        var listed = await (await tenant.Client.GetAsync(tenant.Ws("virtual-hosts"))).JsonAsync(HttpStatusCode.OK);
        Assert.All(listed.GetProperty("data").EnumerateArray(), v => Assert.True(v.GetProperty("waiting_for_certificate").GetBoolean()));
    }
}
