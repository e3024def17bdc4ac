namespace NxMesh.Data.Alerts;

/// <summary>Event types published on the feed by health evaluation (besides <see cref="Messaging.FleetEventTypes"/>).</summary>
public static class HealthEventTypes
{
    /// <summary><c>{agent_id, alert_id, severity, message, metric, value, threshold}</c>: a rule's threshold was crossed.</summary>
    public const string Alert = "health.alert";
    /// <summary>The same fields plus <c>opened_at</c>: the alert's condition cleared (or its rule was disabled).</summary>
    public const string Resolved = "health.resolved";
    /// <summary><c>{agent_id, state, previous_state}</c>: a health report moved the agent between online and degraded.</summary>
    public const string AgentStateChanged = "agent.state_changed";
    /// <summary><c>{agent_id, desired_config_id, applied_config_id, drift_seconds, threshold}</c>: the drift rule fired.</summary>
    public const string ConfigDriftDetected = "config.drift_detected";
}
