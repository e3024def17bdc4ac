namespace NxMesh.AgentSim.Report;

/// <summary>Everything one run measured; written as JSON (snake_case) and summarised as Markdown.</summary>
public sealed class BenchReport
{
    public string Commit { get; set; } = "";
    public DateTimeOffset StartedAt { get; set; }
    public DateTimeOffset FinishedAt { get; set; }
    public string Machine { get; set; } = "";
    public string LoadAverageAtStart { get; set; } = "";
    public string LoadAverageAtEnd { get; set; } = "";
    public string CommandLine { get; set; } = "";
    public double HealthIntervalSeconds { get; set; }
    public double SimulatedApplyMilliseconds { get; set; }
    public List<CapacityResult> Capacity { get; } = [];
    public List<PropagationResult> Propagation { get; } = [];
    public ReconnectResult? Reconnect { get; set; }
    public List<ApplyResult> Apply { get; } = [];
    public RestResult? Rest { get; set; }
    public List<TargetCheck> Targets { get; } = [];
    public List<string> Notes { get; } = [];
}

/// <summary>One target (agenthub or floor) holding <c>Connected</c> streams, measured over a window.</summary>
public sealed record CapacityResult(
    string Target,
    int Requested,
    int Connected,
    double ConnectSeconds,
    long RssBaselineBytes,
    long RssBytes,
    double RssPerAgentBytes,
    double CpuPercentOfOneCore,
    double WindowSeconds,
    double HealthSentPerSecond,
    double HealthPersistedPerSecond,
    double PostgresCpuPercentOfOneCore,
    double SimulatorCpuPercentOfOneCore,
    long SimulatorRssBytes,
    double LoadAverage1m);

/// <summary>
/// A change reaching every agent: for agenthub a REST PATCH of a workspace-wide upstream, for floor one broadcast of a
/// message of the same size. Times in ms from the moment the request was sent.
/// </summary>
public sealed record PropagationResult(
    string Target,
    int Agents,
    int MessageBytes,
    double RequestMilliseconds,
    Distribution Receipt,
    Distribution Acknowledged,
    int Received,
    int AcknowledgedCount,
    double? AllInSyncMilliseconds,
    double LoadAverage1m,
    IReadOnlyList<double> RawReceiptMilliseconds,
    IReadOnlyList<double> RawAcknowledgedMilliseconds);

/// <summary>AgentHub killed (SIGKILL) and restarted with <see cref="Agents"/> connected agents.</summary>
public sealed record ReconnectResult(
    int Agents,
    double RestartToHealthySeconds,
    int Reconnected,
    double AllReconnectedSeconds,
    double? AllInSyncSeconds,
    Distribution ReconnectSeconds,
    long AgentHubRssAfterBytes,
    IReadOnlyList<double> RawReconnectSeconds);

/// <summary>The real agent's apply (PENDING → SUCCESS) against bare <c>nginx -t</c> then <c>nginx -s reload</c> of the same config.</summary>
public sealed record ApplyResult(
    int ServerBlocks,
    int RenderedConfigBytes,
    Distribution AgentApplyMilliseconds,
    Distribution BareMilliseconds,
    double? Ratio,
    IReadOnlyList<double> RawAgentMilliseconds,
    IReadOnlyList<double> RawBareMilliseconds,
    Distribution? AgentUntilHupMilliseconds = null,
    Distribution? ConfirmationMilliseconds = null,
    IReadOnlyList<ApplyStageTimes>? RawAgentStages = null);

/// <summary>
/// One apply's stages as the agent timed them (its log line "config … stages in ms: …"): render, write, validate,
/// swap (up to the HUP), new_workers and old_stopped (the confirmation), commit.
/// </summary>
public sealed record ApplyStageTimes(string ConfigId, double TotalMilliseconds, IReadOnlyDictionary<string, double> Stages)
{
    /// <summary>The stages after the HUP: until the new generation runs and the old one no longer accepts.</summary>
    public static readonly string[] Confirmation = ["new_workers", "old_stopped"];

    public double ConfirmationMilliseconds => Confirmation.Sum(s => Stages.GetValueOrDefault(s));

    /// <summary>Everything up to and including the HUP: what a bare <c>nginx -t &amp;&amp; nginx -s reload</c> also covers.</summary>
    public double UntilHupMilliseconds => Stages.Where(s => s.Key is not ("new_workers" or "old_stopped" or "commit")).Sum(s => s.Value);
}

/// <summary>GET agents?label_selector with every simulated agent registered, driven by autocannon.</summary>
public sealed record RestResult(
    string Tool,
    string Url,
    int AgentsInWorkspace,
    int MatchingAgents,
    int Connections,
    double DurationSeconds,
    double RequestsPerSecond,
    double LatencyP50Milliseconds,
    double LatencyP99Milliseconds,
    double LatencyMaxMilliseconds,
    long Non2xx,
    long Errors,
    double ApiCpuPercentOfOneCore,
    double PostgresCpuPercentOfOneCore,
    long ApiRssBytes)
{
    /// <summary>Per process: CPU in a quiet window before the load and in the load window, and per request.</summary>
    public IReadOnlyList<RestCpuShare> Cpu { get; init; } = [];
    public double QuietSeconds { get; init; }
    public double LoadSeconds { get; init; }
    public double PostgresTransactionsPerSecondQuiet { get; init; }
    public double PostgresTransactionsPerSecondLoad { get; init; }
}

/// <summary>One process's CPU (100 % = one core) in the REST scenario's quiet and load windows; CPU ms per request.</summary>
public sealed record RestCpuShare(string Process, double QuietPercentOfOneCore, double LoadPercentOfOneCore, double? MillisecondsPerRequest,
    double? MillisecondsPerRequestAboveQuiet);
