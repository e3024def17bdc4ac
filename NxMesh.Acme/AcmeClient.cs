using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace NxMesh.Acme;

/// <summary>Polling bounds: the interval when the server sends no Retry-After, and the longest wait a Retry-After may ask.</summary>
public sealed record AcmePolling(TimeSpan DefaultInterval, TimeSpan MaxRetryAfter)
{
    public static AcmePolling Default { get; } = new(TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(30));
}

/// <summary>
/// A compact RFC 8555 client for one account key: directory, nonces (one retry on <c>badNonce</c>), ES256 JWS
/// (<c>jwk</c> for newAccount, <c>kid</c> after), orders, authorizations, HTTP-01, finalize with a CSR, download.
/// Every non-2xx answer becomes an <see cref="AcmeException"/> whose message is the problem's type and detail.
/// Not thread-safe: one flow at a time per instance.
/// </summary>
public sealed class AcmeClient(HttpClient http, Uri directoryUrl, ECDsa accountKey, AcmePolling? polling = null, TimeProvider? time = null)
{
    private const string JoseJson = "application/jose+json";
    private readonly AcmePolling _polling = polling ?? AcmePolling.Default;
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private AcmeDirectory? _directory;
    private string? _nonce;

    /// <summary>The account URL (the JWS <c>kid</c>), known after <see cref="EnsureAccountAsync"/>.</summary>
    public string? AccountUrl { get; private set; }

    public string KeyAuthorization(string token) => AcmeJwk.KeyAuthorization(token, accountKey);

    public async Task<AcmeDirectory> GetDirectoryAsync(CancellationToken cancellationToken)
    {
        if (_directory is null)
        {
            using var response = await http.GetAsync(directoryUrl, cancellationToken);
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                throw Failure(response, body, "directory");
            }
            using var document = Parse(body, "directory");
            _directory = AcmeJson.Directory(document.RootElement);
        }
        return _directory;
    }

    /// <summary>newAccount with <c>termsOfServiceAgreed</c>: creates the account or finds the existing one of this key.</summary>
    public async Task<string> EnsureAccountAsync(IEnumerable<string>? contacts, CancellationToken cancellationToken)
    {
        var directory = await GetDirectoryAsync(cancellationToken);
        var payload = new JsonObject { ["termsOfServiceAgreed"] = true };
        var contactList = contacts?.Select(c => (JsonNode?)JsonValue.Create("mailto:" + c)).ToArray() ?? [];
        if (contactList.Length > 0)
        {
            payload["contact"] = new JsonArray(contactList);
        }
        var (response, _) = await PostAsync(directory.NewAccount, payload, useKid: false, "newAccount", cancellationToken);
        using (response)
        {
            AccountUrl = response.Headers.Location?.AbsoluteUri ?? throw new AcmeException("The ACME server answered newAccount without a Location.");
            return AccountUrl;
        }
    }

    public async Task<AcmeOrder> NewOrderAsync(IEnumerable<string> domains, CancellationToken cancellationToken)
    {
        var directory = await GetDirectoryAsync(cancellationToken);
        var identifiers = new JsonArray(domains.Select(d => (JsonNode?)new JsonObject { ["type"] = "dns", ["value"] = d }).ToArray());
        var (response, body) = await PostAsync(directory.NewOrder, new JsonObject { ["identifiers"] = identifiers }, useKid: true, "newOrder", cancellationToken);
        using (response)
        {
            var url = response.Headers.Location ?? throw new AcmeException("The ACME server answered newOrder without a Location.");
            using var document = Parse(body, "order");
            return AcmeJson.Order(url, document.RootElement);
        }
    }

    public async Task<AcmeOrder> GetOrderAsync(Uri url, CancellationToken cancellationToken)
    {
        var (response, body) = await PostAsync(url, null, useKid: true, "order", cancellationToken);
        using (response)
        {
            using var document = Parse(body, "order");
            return AcmeJson.Order(url, document.RootElement);
        }
    }

    public async Task<AcmeAuthorization> GetAuthorizationAsync(Uri url, CancellationToken cancellationToken)
    {
        var (response, body) = await PostAsync(url, null, useKid: true, "authorization", cancellationToken);
        using (response)
        {
            using var document = Parse(body, "authorization");
            return AcmeJson.Authorization(url, document.RootElement);
        }
    }

    /// <summary>Tells the server the challenge can be validated now (POST <c>{}</c>).</summary>
    public async Task<AcmeChallenge> RespondAsync(AcmeChallenge challenge, CancellationToken cancellationToken)
    {
        var (response, body) = await PostAsync(challenge.Url, new JsonObject(), useKid: true, "challenge", cancellationToken);
        using (response)
        {
            using var document = Parse(body, "challenge");
            return AcmeJson.Challenge(document.RootElement);
        }
    }

    /// <summary>Polls until the authorization is no longer pending; invalid → <see cref="AcmeException"/> with the challenge's error.</summary>
    public async Task<AcmeAuthorization> WaitForAuthorizationAsync(Uri url, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = _time.GetUtcNow() + timeout;
        while (true)
        {
            var (response, body) = await PostAsync(url, null, useKid: true, "authorization", cancellationToken);
            AcmeAuthorization authorization;
            using (response)
            {
                using var document = Parse(body, "authorization");
                authorization = AcmeJson.Authorization(url, document.RootElement);
                switch (authorization.Status)
                {
                    case "valid":
                        return authorization;
                    case "pending" or "processing":
                        await DelayAsync(response, deadline, $"the authorization of {authorization.Identifier}", cancellationToken);
                        continue;
                }
            }
            var reason = authorization.Error?.ToString() ?? "no reason given";
            throw new AcmeException($"The authorization of {authorization.Identifier} is {authorization.Status}: {reason}", authorization.Error);
        }
    }

    /// <summary>Sends the CSR (DER) to the order's finalize URL and polls the order until it is valid.</summary>
    public async Task<AcmeOrder> FinalizeAsync(AcmeOrder order, byte[] csr, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var (response, body) = await PostAsync(order.Finalize, new JsonObject { ["csr"] = System.Buffers.Text.Base64Url.EncodeToString(csr) }, useKid: true, "finalize", cancellationToken);
        var deadline = _time.GetUtcNow() + timeout;
        while (true)
        {
            using (response)
            {
                using var document = Parse(body, "order");
                order = AcmeJson.Order(order.Url, document.RootElement);
                switch (order.Status)
                {
                    case "valid" when order.Certificate is not null:
                        return order;
                    case "invalid":
                        throw new AcmeException($"The order is invalid: {order.Error?.ToString() ?? "no reason given"}", order.Error);
                }
                await DelayAsync(response, deadline, "the order", cancellationToken);
            }
            (response, body) = await PostAsync(order.Url, null, useKid: true, "order", cancellationToken);
        }
    }

    /// <summary>The PEM chain (leaf first) of a valid order.</summary>
    public async Task<string> DownloadCertificateAsync(AcmeOrder order, CancellationToken cancellationToken)
    {
        var url = order.Certificate ?? throw new AcmeException("The order has no certificate yet.");
        var (response, body) = await PostAsync(url, null, useKid: true, "certificate", cancellationToken, accept: "application/pem-certificate-chain");
        using (response)
        {
            if (!body.Contains("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal))
            {
                throw new AcmeException("The ACME server's certificate download is not a PEM chain.");
            }
            return body;
        }
    }

    /// <summary>
    /// A signed POST (a null payload is POST-as-GET). A <c>badNonce</c> answer is retried once with the fresh nonce
    /// it carries (RFC 8555 §6.5); any other non-2xx throws.
    /// </summary>
    private async Task<(HttpResponseMessage Response, string Body)> PostAsync(Uri url, JsonNode? payload, bool useKid, string what, CancellationToken cancellationToken, string? accept = null)
    {
        if (useKid && AccountUrl is null)
        {
            throw new InvalidOperationException("EnsureAccountAsync first: later requests are signed with the account URL.");
        }
        for (var attempt = 0; ; attempt++)
        {
            var nonce = await TakeNonceAsync(cancellationToken);
            var jws = AcmeJws.Sign(accountKey, nonce, url, payload, useKid ? AccountUrl : null);
            using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new StringContent(jws, Encoding.UTF8) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue(JoseJson);
            if (accept is not null)
            {
                request.Headers.Accept.ParseAdd(accept);
            }
            var response = await http.SendAsync(request, cancellationToken);
            RememberNonce(response);
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            if (response.IsSuccessStatusCode)
            {
                return (response, body);
            }
            using (response)
            {
                var problem = AcmeProblem.TryParse(body);
                if (problem?.Type == AcmeProblem.BadNonce && attempt == 0)
                {
                    continue;
                }
                throw Failure(response, body, what, problem);
            }
        }
    }

    private async Task<string> TakeNonceAsync(CancellationToken cancellationToken)
    {
        if (_nonce is { } nonce)
        {
            _nonce = null;
            return nonce;
        }
        var directory = await GetDirectoryAsync(cancellationToken);
        using var request = new HttpRequestMessage(HttpMethod.Head, directory.NewNonce);
        using var response = await http.SendAsync(request, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw Failure(response, "", "newNonce");
        }
        RememberNonce(response);
        nonce = _nonce ?? throw new AcmeException("The ACME server's newNonce answer has no Replay-Nonce.");
        _nonce = null;
        return nonce;
    }

    private void RememberNonce(HttpResponseMessage response)
    {
        if (response.Headers.TryGetValues("Replay-Nonce", out var values) && values.FirstOrDefault() is { Length: > 0 } nonce)
        {
            _nonce = nonce;
        }
    }

    /// <summary>Waits what Retry-After asks (capped by <see cref="AcmePolling.MaxRetryAfter"/>), else the default interval; never past the deadline.</summary>
    private async Task DelayAsync(HttpResponseMessage response, DateTimeOffset deadline, string what, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var delay = RetryAfter(response, now) ?? _polling.DefaultInterval;
        delay = TimeSpan.FromTicks(Math.Clamp(delay.Ticks, TimeSpan.FromMilliseconds(100).Ticks, _polling.MaxRetryAfter.Ticks));
        if (now + delay > deadline)
        {
            throw new AcmeException($"Gave up waiting for {what}: still not done at the time limit.");
        }
        await Task.Delay(delay, _time, cancellationToken);
    }

    /// <summary>Retry-After as seconds or an HTTP date; null when absent.</summary>
    public static TimeSpan? RetryAfter(HttpResponseMessage response, DateTimeOffset now) =>
        response.Headers.RetryAfter switch
        {
            { Delta: { } delta } => delta,
            { Date: { } date } => date > now ? date - now : TimeSpan.Zero,
            _ => null,
        };

    private static AcmeException Failure(HttpResponseMessage response, string body, string what, AcmeProblem? problem = null)
    {
        problem ??= AcmeProblem.TryParse(body);
        var message = problem is not null
            ? $"ACME {what} failed: {problem}"
            : $"ACME {what} failed with HTTP {(int)response.StatusCode} {response.ReasonPhrase}";
        return new AcmeException(message, problem, response.StatusCode);
    }

    private static JsonDocument Parse(string body, string what)
    {
        try
        {
            return JsonDocument.Parse(body);
        }
        catch (JsonException ex)
        {
            throw new AcmeException($"The ACME server's {what} is not JSON.", inner: ex);
        }
    }
}
