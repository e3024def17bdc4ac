using Microsoft.Extensions.Options;
using NxMesh.Agent.Master;
using NxMesh.Protocol.V1;

namespace NxMesh.Agent.Health;

/// <summary>
/// Local facts (nginx started, stopped, died, restarted; an apply rolled back): each becomes an event for the master
/// and, when it is alert-worthy, an alert carried in health reports for a retention period. Thresholds are the
/// master's job; the agent reports only what it saw.
/// </summary>
public sealed class LocalFacts(AgentOutbox outbox, TimeProvider time, IOptions<AgentOptions> options)
{
    public const string NginxStarted = "nginx.started";
    public const string NginxStopped = "nginx.stopped";
    public const string NginxDied = "nginx.died";
    public const string NginxRestarted = "nginx.restarted";
    public const string ConfigRolledBack = "config.rolled_back";
    public const string ListenerBindFailed = "nginx.bind_failed";
    public const string UpstreamServerHealth = "upstream.server_health";

    private readonly List<Alert> _alerts = [];

    public void Record(string eventType, IReadOnlyDictionary<string, string> data, string? alertSeverity = null, string? alertMessage = null)
    {
        var now = time.GetUtcNow();
        var @event = new Event { EventId = Guid.NewGuid().ToString(), EventType = eventType, Timestamp = now.ToUnixTimeMilliseconds() };
        foreach (var (key, value) in data)
        {
            @event.Data[key] = value;
        }
        if (alertSeverity is not null)
        {
            lock (_alerts)
            {
                _alerts.Add(new Alert
                {
                    Id = $"{eventType}-{@event.EventId}",
                    Severity = alertSeverity,
                    Message = alertMessage ?? eventType,
                    Timestamp = @event.Timestamp,
                });
            }
        }
        outbox.Post(@event);
    }

    /// <summary>Alerts still within retention, plus "nginx not running" while that holds.</summary>
    public IReadOnlyList<Alert> CurrentAlerts(bool nginxRunning)
    {
        var cutoff = time.GetUtcNow().AddSeconds(-options.Value.AlertRetentionSeconds).ToUnixTimeMilliseconds();
        var alerts = new List<Alert>();
        lock (_alerts)
        {
            _alerts.RemoveAll(a => a.Timestamp < cutoff);
            alerts.AddRange(_alerts);
        }
        if (!nginxRunning)
        {
            alerts.Add(new Alert { Id = "nginx-down", Severity = "critical", Message = "nginx is not running", Timestamp = time.GetUtcNow().ToUnixTimeMilliseconds() });
        }
        return alerts;
    }
}
