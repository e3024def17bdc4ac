using System.Globalization;
using NxMesh.Testing;

namespace NxMesh.EndToEnd.Tests;

/// <summary>
/// A <see cref="TestUpstream"/> that answers by path: <c>…/{status}/{bytes}</c> gets that status and a body of exactly
/// that many bytes (3xx with a Location header), so a test knows what nginx logs for each request.
/// </summary>
internal static class StatusUpstream
{
    public static TestUpstream Start() => TestUpstream.Start("status", Respond);

    private static UpstreamResponse Respond(string path)
    {
        var segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var status = int.Parse(segments[^2], CultureInfo.InvariantCulture);
        var size = int.Parse(segments[^1], CultureInfo.InvariantCulture);
        return new UpstreamResponse(status, Enumerable.Repeat((byte)'x', size).ToArray(),
            status is >= 300 and < 400 ? "/moved" : null);
    }
}
