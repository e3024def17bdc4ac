using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Options;
using NxMesh.Agent.Health;
using NxMesh.Agent.Master;
using NxMesh.Agent.Nginx;
using NxMesh.Nginx;
using NxMesh.Nginx.Rendering;
using NxMesh.Protocol.V1;

namespace NxMesh.Agent.Apply;

/// <summary>The terminal outcome of one apply, as reported in ConfigStatus, with the time of each stage it went through.</summary>
public sealed record ApplyResult(ConfigApplyStatus Status, string Message, TimeSpan Duration, IReadOnlyList<ApplyStage> Stages);

/// <summary>
/// The safe apply pipeline. PENDING → VALIDATING (render into a staged release, `nginx -t` on it in a scratch prefix)
/// → APPLYING (swap the config symlink, reload, confirm a new worker generation) → SUCCESS. A validation failure is
/// FAILED with nginx's text and nothing live touched; a failure after the swap restores the previous release,
/// reloads and is ROLLED_BACK. After SUCCESS the error log is watched for a short window; emerg/alert/crit there
/// rolls back too (a second terminal status for the same config_id). Updates arriving mid-apply are coalesced:
/// only the newest waiting one is applied.
/// </summary>
internal sealed partial class ConfigApplier : BackgroundService
{
    private readonly AgentOptions _options;
    private readonly IConfigRenderer _renderer;
    private readonly ReleaseStore _releases;
    private readonly ConfigChecker _checker;
    private readonly NginxReloader _reloader;
    private readonly INginxControl _control;
    private readonly NginxLayout _layout;
    private readonly LastKnownGoodStore _lastKnownGood;
    private readonly AgentOutbox _outbox;
    private readonly LocalFacts _facts;
    private readonly NginxGate _gate;
    private readonly TimeProvider _time;
    private readonly ILogger<ConfigApplier> _logger;
    private readonly SemaphoreSlim _signal = new(0);
    private ConfigUpdate? _pending;
    private volatile AppliedConfig? _current;
    private string? _currentRelease;
    private AppliedConfig? _previous;
    private string? _previousRelease;

    public ConfigApplier(
        IOptions<AgentOptions> options, IConfigRenderer renderer, ReleaseStore releases, ConfigChecker checker, NginxReloader reloader,
        INginxControl control, NginxLayout layout, LastKnownGoodStore lastKnownGood, AgentOutbox outbox, LocalFacts facts, NginxGate gate,
        TimeProvider time, ILogger<ConfigApplier> logger)
    {
        _options = options.Value;
        _renderer = renderer;
        _releases = releases;
        _checker = checker;
        _reloader = reloader;
        _control = control;
        _layout = layout;
        _lastKnownGood = lastKnownGood;
        _outbox = outbox;
        _facts = facts;
        _gate = gate;
        _time = time;
        _logger = logger;
    }

    /// <summary>What nginx serves now (after startup: the last known good or the base config).</summary>
    public AppliedConfig? Current => _current;

    /// <summary>Raised after every change of <see cref="Current"/> (apply, rollback, startup).</summary>
    public event Action<AppliedConfig>? CurrentChanged;

    /// <summary>Queues an update; one still waiting is replaced (newest wins).</summary>
    public void Submit(ConfigUpdate update)
    {
        if (Interlocked.Exchange(ref _pending, update) is { } superseded)
        {
            LogSuperseded(superseded.ConfigId, superseded.Version, update.Version);
        }
        _signal.Release();
    }

    /// <summary>
    /// At agent start, before nginx runs: the last known good config (else the base config) becomes the active
    /// release. A stored config this nginx no longer accepts falls back to the base config.
    /// </summary>
    internal async Task InstallStartupConfigAsync(CancellationToken cancellationToken)
    {
        _layout.EnsureLayout();
        AppliedConfig? stored = null;
        try
        {
            stored = _lastKnownGood.Load();
        }
        catch (Exception ex) when (ex is IOException or System.Text.Json.JsonException or InvalidDataException or Google.Protobuf.InvalidJsonException)
        {
            LogLastKnownGoodUnreadable(ex.Message);
        }
        var baseConfig = new AppliedConfig("", 0, RenderedConfig.FromMain(BaseConfigRenderer.Render(_options.HostSettings)), null, _time.GetUtcNow());
        foreach (var candidate in stored is null ? [baseConfig] : new[] { stored, baseConfig })
        {
            var release = _releases.Stage(candidate.Rendered);
            var (valid, output) = await _checker.CheckAsync(release.ConfigPath, cancellationToken);
            if (!valid)
            {
                _releases.Discard(release.Name);
                LogStartupConfigRejected(candidate.ConfigId, output);
                continue;
            }
            _releases.Activate(release.Name);
            _releases.Prune();
            _currentRelease = release.Name;
            SetCurrent(candidate);
            LogStartupConfig(candidate.IsBase ? "base" : candidate.ConfigId, candidate.Version);
            return;
        }
        throw new InvalidOperationException("nginx rejects both the last known good and the base configuration.");
    }

    /// <summary>Runs the pipeline for one update now and reports every status to the outbox.</summary>
    public async Task<ApplyResult> ApplyAsync(ConfigUpdate update, CancellationToken cancellationToken)
    {
        using var activity = AgentTracing.Start("apply config", update.Traceparent);
        activity?.SetTag("nxmesh.config_id", update.ConfigId);
        activity?.SetTag("nxmesh.config_version", update.Version);
        var started = Stopwatch.GetTimestamp();
        var stages = new ApplyStages(activity);
        Report(update, ConfigApplyStatus.Pending);
        if (_current is { IsBase: false } current && current.ConfigId == update.ConfigId)
        {
            return Finish(update, ConfigApplyStatus.Success, "already applied", started, stages);
        }

        using var _ = await _gate.EnterAsync(cancellationToken);
        Report(update, ConfigApplyStatus.Validating);
        Release release;
        try
        {
            var rendered = _renderer.Render(update);
            stages.Mark(ApplyStages.Render);
            release = _releases.Stage(rendered);
            stages.Mark(ApplyStages.Write);
            var (valid, output) = await _checker.CheckAsync(release.ConfigPath, cancellationToken);
            stages.Mark(ApplyStages.Validate);
            if (!valid)
            {
                _releases.Discard(release.Name);
                return Finish(update, ConfigApplyStatus.Failed, output, started, stages);
            }
            Report(update, ConfigApplyStatus.Applying);
            var previous = (Config: _current, Release: _currentRelease);
            _releases.Activate(release.Name);
            var applied = new AppliedConfig(update.ConfigId, update.Version, rendered, update, _time.GetUtcNow());
            stages.Mark(ApplyStages.Swap);

            if (_control.MasterPid is null)
            {
                // A stopped nginx (stop command, or between supervised restarts) loads this config when it starts.
                Commit(applied, release.Name, previous.Release);
                stages.Mark(ApplyStages.Commit);
                return Persisted(Finish(update, ConfigApplyStatus.Success, "nginx is not running; the config is loaded when it starts", started, stages), applied);
            }
            var reload = await _reloader.ReloadAsync(graceful: true, cancellationToken);
            if (reload.Success)
            {
                stages.MarkSplit(ApplyStages.NewWorkers, ApplyStages.OldStopped, reload.Confirmed - reload.NewGeneration);
                Commit(applied, release.Name, previous.Release);
                stages.Mark(ApplyStages.Commit);
                return Persisted(Finish(update, ConfigApplyStatus.Success, "", started, stages), applied);
            }

            var reason = await RestoreAsync(previous.Release, reload.Message, cancellationToken);
            _releases.Discard(release.Name);
            RecordRollback(update, reason);
            return Finish(update, ConfigApplyStatus.RolledBack, reason, started, stages);
        }
        catch (ConfigRenderingException ex)
        {
            return Finish(update, ConfigApplyStatus.Failed, ex.Message, started, stages);
        }
        catch (IOException ex)
        {
            return Finish(update, ConfigApplyStatus.Failed, "could not stage the config: " + ex.Message, started, stages);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await _signal.WaitAsync(stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            if (Interlocked.Exchange(ref _pending, null) is not { } update)
            {
                continue;
            }
            try
            {
                var result = await ApplyAsync(update, stoppingToken);
                if (result.Status == ConfigApplyStatus.Success && result.Message.Length == 0)
                {
                    await WatchErrorLogAsync(update, stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // One bad update must not end the apply loop (and with it the agent): report it and carry on.
                LogApplyCrashed(update.ConfigId, ex);
                Report(update, ConfigApplyStatus.Failed, "internal error while applying: " + ex.Message);
            }
        }
    }

    /// <summary>
    /// After SUCCESS: emerg/alert/crit in the error log within the window restores the previous release and reports
    /// ROLLED_BACK for the same config. A newer update ends the window early (after a last look at the log).
    /// </summary>
    private async Task WatchErrorLogAsync(ConfigUpdate update, CancellationToken cancellationToken)
    {
        if (_options.ErrorLogWatchSeconds <= 0)
        {
            return;
        }
        var (previousConfig, previousRelease) = (_previous, _previousRelease);
        var log = new ErrorLogTail(_layout.ErrorLog);
        var deadline = Stopwatch.GetTimestamp() + (long)(_options.ErrorLogWatchSeconds * Stopwatch.Frequency);
        var severe = new List<string>();
        while (severe.Count == 0)
        {
            var last = Stopwatch.GetTimestamp() >= deadline || Volatile.Read(ref _pending) is not null;
            severe.AddRange(ErrorLogTail.Severe(log.ReadNew()));
            if (last)
            {
                break;
            }
            await Task.Delay(100, cancellationToken);
        }
        if (severe.Count == 0 || previousRelease is null || _current?.ConfigId != update.ConfigId)
        {
            return;
        }

        var started = Stopwatch.GetTimestamp();
        using var _ = await _gate.EnterAsync(cancellationToken);
        var reason = await RestoreAsync(previousRelease, "nginx logged after the apply: " + string.Join("\n", severe.Distinct()), cancellationToken);
        _currentRelease = previousRelease;
        if (previousConfig is not null)
        {
            SetCurrent(previousConfig);
            _lastKnownGood.Save(previousConfig);
        }
        RecordRollback(update, reason);
        Finish(update, ConfigApplyStatus.RolledBack, reason, started, null);
    }

    private void Commit(AppliedConfig applied, string release, string? previousRelease)
    {
        _previous = _current;
        _previousRelease = previousRelease;
        _currentRelease = release;
        SetCurrent(applied);
    }

    /// <summary>
    /// After SUCCESS is reported (still inside the gate, before any later apply or rollback): the config becomes the
    /// last known good (an fsync'd file: 1–30 ms, more on a busy disk, and no part of what nginx serves) and the
    /// releases older than the previous one go. Had the agent died in between, it would restart on the config before
    /// and report that checksum, and the master would push this one again.
    /// </summary>
    private ApplyResult Persisted(ApplyResult result, AppliedConfig applied)
    {
        try
        {
            _lastKnownGood.Save(applied);
            _releases.Prune(_previousRelease);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            LogPersistFailed(applied.ConfigId, ex.Message);
        }
        return result;
    }

    /// <summary>Swaps the previous release back and reloads; the reason names both what failed and how the restore went.</summary>
    private async Task<string> RestoreAsync(string? previousRelease, string failure, CancellationToken cancellationToken)
    {
        if (previousRelease is null)
        {
            return failure + " (no previous release to restore)";
        }
        _releases.Activate(previousRelease);
        if (_control.MasterPid is null)
        {
            return failure + "; previous config restored (nginx is not running)";
        }
        var restore = await _reloader.ReloadAsync(graceful: true, cancellationToken);
        if (!restore.Success)
        {
            LogRestoreFailed(restore.Message);
        }
        return restore.Success
            ? failure + "; previous config restored and reloaded"
            : failure + "; previous config restored, but its reload failed: " + restore.Message;
    }

    private void RecordRollback(ConfigUpdate update, string reason)
    {
        var data = new Dictionary<string, string>
        {
            ["config_id"] = update.ConfigId,
            ["version"] = update.Version.ToString(CultureInfo.InvariantCulture),
            ["reason"] = reason,
        };
        _facts.Record(LocalFacts.ConfigRolledBack, data, "error", $"config version {update.Version} was rolled back: {FirstLine(reason)}");
        if (reason.Contains("bind()", StringComparison.Ordinal))
        {
            _facts.Record(LocalFacts.ListenerBindFailed, data);
        }
    }

    private void SetCurrent(AppliedConfig applied)
    {
        _current = applied;
        CurrentChanged?.Invoke(applied);
    }

    private void Report(ConfigUpdate update, ConfigApplyStatus status, string message = "", long appliedAt = 0) =>
        _outbox.Post(new ConfigStatus
        {
            ConfigId = update.ConfigId,
            Version = update.Version,
            Status = status,
            ErrorMessage = message,
            AppliedAt = appliedAt,
        });

    private ApplyResult Finish(ConfigUpdate update, ConfigApplyStatus status, string message, long started, ApplyStages? stages)
    {
        var duration = Stopwatch.GetElapsedTime(started);
        Report(update, status, message, status == ConfigApplyStatus.Success ? _time.GetUtcNow().ToUnixTimeMilliseconds() : 0);
        LogFinished(update.ConfigId, update.Version, status, (long)duration.TotalMilliseconds, FirstLine(message));
        if (stages is { Stages.Count: > 0 })
        {
            LogStages(update.ConfigId, update.Version, duration.TotalMilliseconds, stages.ToString());
        }
        return new ApplyResult(status, message, duration, stages?.Stages ?? []);
    }

    private static string FirstLine(string text) => text.Split('\n', 2)[0];

    [LoggerMessage(Level = LogLevel.Information, Message = "config {ConfigId} v{Version}: {Status} in {DurationMs} ms {Detail}")]
    private partial void LogFinished(string configId, long version, ConfigApplyStatus status, long durationMs, string detail);

    /// <summary>Parsed by the benchmark (bench/NxMesh.AgentSim, apply scenario): keep the shape.</summary>
    [LoggerMessage(Level = LogLevel.Information, Message = "config {ConfigId} v{Version} stages in ms: total={TotalMs:0.0} {Stages}")]
    private partial void LogStages(string configId, long version, double totalMs, string stages);

    [LoggerMessage(Level = LogLevel.Information, Message = "config {ConfigId} v{Version} superseded by v{NewVersion} before it was applied")]
    private partial void LogSuperseded(string configId, long version, long newVersion);

    [LoggerMessage(Level = LogLevel.Information, Message = "serving the {ConfigId} config (version {Version}) from the state folder")]
    private partial void LogStartupConfig(string configId, long version);

    [LoggerMessage(Level = LogLevel.Error, Message = "nginx rejects the stored config {ConfigId}: {Output}")]
    private partial void LogStartupConfigRejected(string configId, string output);

    [LoggerMessage(Level = LogLevel.Error, Message = "the last known good config cannot be read: {Reason}")]
    private partial void LogLastKnownGoodUnreadable(string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "applying config {ConfigId} failed unexpectedly")]
    private partial void LogApplyCrashed(string configId, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "config {ConfigId} is applied but could not be kept as the last known good: {Reason}")]
    private partial void LogPersistFailed(string configId, string reason);

    [LoggerMessage(Level = LogLevel.Critical, Message = "restoring the previous config failed: {Reason}")]
    private partial void LogRestoreFailed(string reason);
}
