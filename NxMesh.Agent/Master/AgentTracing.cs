using System.Diagnostics;

namespace NxMesh.Agent.Master;

/// <summary>
/// The agent's spans, on the "NxMesh" source that ServiceDefaults registers with OpenTelemetry. A ConfigUpdate or
/// Command carries the W3C traceparent of the change or REST call that caused it (server-stream messages have no
/// metadata), so the apply or command span joins that trace: REST → AgentHub → agent in one trace.
/// </summary>
internal static class AgentTracing
{
    public static readonly ActivitySource Source = new(Microsoft.Extensions.Hosting.Extensions.ActivitySourceName);

    /// <summary>A span under <paramref name="traceparent"/> when it parses, else a span of its own.</summary>
    public static Activity? Start(string name, string? traceparent) =>
        ActivityContext.TryParse(traceparent, null, isRemote: true, out var parent)
            ? Source.StartActivity(name, ActivityKind.Consumer, parent)
            : Source.StartActivity(name, ActivityKind.Consumer);
}
