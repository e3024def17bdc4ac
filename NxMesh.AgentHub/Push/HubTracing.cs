using System.Diagnostics;

namespace NxMesh.AgentHub.Push;

/// <summary>
/// The AgentHub's own spans (source "NxMesh.AgentHub", registered by ServiceDefaults as the application's name).
/// W3C traceparent from Redis messages parents them, so one trace spans REST → AgentHub → agent.
/// </summary>
internal static class HubTracing
{
    public const string SourceName = "NxMesh.AgentHub";
    public static readonly ActivitySource Source = new(SourceName);

    /// <summary>A span under <paramref name="traceparent"/> when it parses, else under the current span.</summary>
    public static Activity? Start(string name, string? traceparent, ActivityKind kind = ActivityKind.Internal) =>
        ActivityContext.TryParse(traceparent, null, out var parent)
            ? Source.StartActivity(name, kind, parent)
            : Source.StartActivity(name, kind);

    /// <summary>A new trace: health-triggered pushes are not part of the long-lived stream call's span.</summary>
    public static Activity? StartRoot(string name, ActivityKind kind = ActivityKind.Producer)
    {
        var current = Activity.Current;
        Activity.Current = null;
        try
        {
            return Source.StartActivity(name, kind);
        }
        finally
        {
            Activity.Current = current;
        }
    }
}
