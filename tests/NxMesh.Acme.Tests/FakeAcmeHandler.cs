using System.Buffers.Text;
using System.Net;
using System.Text;
using System.Text.Json;

namespace NxMesh.Acme.Tests;

/// <summary>
/// An in-memory ACME server for client tests: serves the directory and nonces itself, records every signed
/// request (decoded protected header and payload) and answers POSTs from a per-path queue of scripted responses.
/// </summary>
internal sealed class FakeAcmeHandler : HttpMessageHandler
{
    public const string Base = "https://acme.test";
    public static readonly Uri Directory = new(Base + "/directory");
    private readonly Dictionary<string, Queue<Func<HttpResponseMessage>>> _scripts = [];
    private int _nonce;

    public List<(string Path, JsonElement Header, string Payload)> Posts { get; } = [];
    public int NonceRequests { get; private set; }

    public void On(string path, Func<HttpResponseMessage> respond)
    {
        if (!_scripts.TryGetValue(path, out var queue))
        {
            _scripts[path] = queue = new Queue<Func<HttpResponseMessage>>();
        }
        queue.Enqueue(respond);
    }

    public static HttpResponseMessage Json(HttpStatusCode status, string json, string? location = null, string? retryAfter = null, string contentType = "application/json")
    {
        var response = new HttpResponseMessage(status) { Content = new StringContent(json, Encoding.UTF8, contentType) };
        if (location is not null)
        {
            response.Headers.Location = new Uri(Base + location);
        }
        if (retryAfter is not null)
        {
            response.Headers.TryAddWithoutValidation("Retry-After", retryAfter);
        }
        return response;
    }

    public static HttpResponseMessage Problem(string type, string detail, HttpStatusCode status = HttpStatusCode.BadRequest) =>
        Json(status, $$"""{"type":"urn:ietf:params:acme:error:{{type}}","detail":"{{detail}}","status":{{(int)status}}}""", contentType: "application/problem+json");

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var path = request.RequestUri!.AbsolutePath;
        HttpResponseMessage response;
        if (request.Method == HttpMethod.Get && path == "/directory")
        {
            response = Json(HttpStatusCode.OK, $$$"""{"newNonce":"{{{Base}}}/nonce","newAccount":"{{{Base}}}/account","newOrder":"{{{Base}}}/order","meta":{"termsOfService":"{{{Base}}}/tos"}}""");
        }
        else if (request.Method == HttpMethod.Head && path == "/nonce")
        {
            NonceRequests++;
            response = new HttpResponseMessage(HttpStatusCode.OK);
        }
        else
        {
            var body = JsonDocument.Parse(await request.Content!.ReadAsStringAsync(cancellationToken)).RootElement;
            var header = JsonDocument.Parse(Base64Url.DecodeFromChars(body.GetProperty("protected").GetString()!)).RootElement.Clone();
            var payload = Encoding.UTF8.GetString(Base64Url.DecodeFromChars(body.GetProperty("payload").GetString()!));
            Posts.Add((path, header, payload));
            response = _scripts.TryGetValue(path, out var queue) && queue.Count > 0
                ? queue.Dequeue()()
                : Json(HttpStatusCode.NotFound, """{"type":"urn:ietf:params:acme:error:malformed","detail":"no script"}""");
        }
        if (path != "/directory")
        {
            response.Headers.TryAddWithoutValidation("Replay-Nonce", "nonce-" + Interlocked.Increment(ref _nonce));
        }
        return response;
    }
}
