using System.Collections.Concurrent;
using System.Globalization;
using NxMesh.Agent.Apply;
using NxMesh.Agent.Health;
using NxMesh.Protocol.V1;

namespace NxMesh.Agent.Upstreams;

/// <summary>The probe verdict for one upstream server.</summary>
public enum ServerHealth { Unknown, Healthy, Unhealthy }

/// <summary>One upstream server's probe state.</summary>
public sealed record UpstreamServerHealth(string UpstreamId, string Address, ServerHealth Health, int ConsecutiveSuccesses, int ConsecutiveFailures, string LastResult);

/// <summary>
/// Active health checks (open-source nginx has none): every server of an upstream whose health_check is enabled is
/// probed with GET path every interval; healthy_threshold successes in a row make it healthy, unhealthy_threshold
/// failures unhealthy. Transitions are reported as events; <see cref="Snapshot"/> is the per-server model.
/// nginx's passive max_fails/fail_timeout still does the failover.
/// </summary>
internal sealed partial class UpstreamProber : BackgroundService
{
    public const int DefaultIntervalSeconds = 10;
    public const int DefaultTimeoutSeconds = 5;
    public const int DefaultHealthyThreshold = 2;
    public const int DefaultUnhealthyThreshold = 3;

    private readonly ConfigApplier _applier;
    private readonly LocalFacts _facts;
    private readonly ILogger<UpstreamProber> _logger;
    private readonly ConcurrentDictionary<(string Upstream, string Address), UpstreamServerHealth> _state = new();
    private readonly SemaphoreSlim _changed = new(0);
    private readonly HttpClient _http = new(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.Zero, AllowAutoRedirect = false })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };

    public UpstreamProber(ConfigApplier applier, LocalFacts facts, ILogger<UpstreamProber> logger)
    {
        _applier = applier;
        _facts = facts;
        _logger = logger;
        _applier.CurrentChanged += _ => _changed.Release();
    }

    public IReadOnlyList<UpstreamServerHealth> Snapshot() =>
        [.. _state.Values.OrderBy(s => s.UpstreamId, StringComparer.Ordinal).ThenBy(s => s.Address, StringComparer.Ordinal)];

    public override void Dispose()
    {
        _http.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            using var round = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            var upstreams = _applier.Current?.Update?.Upstreams.Where(u => u.HealthCheck is { Enabled: true }).ToList() ?? [];
            var keep = upstreams.SelectMany(u => u.Servers.Select(s => (u.Id, s.Address))).ToHashSet();
            foreach (var key in _state.Keys.Where(k => !keep.Contains(k)))
            {
                _state.TryRemove(key, out _);
            }
            var probes = upstreams.SelectMany(u => u.Servers.Select(s => ProbeLoopAsync(u, s, round.Token))).ToList();
            try
            {
                await _changed.WaitAsync(stoppingToken);
            }
            catch (OperationCanceledException)
            {
            }
            await round.CancelAsync();
            await Task.WhenAll(probes);
        }
    }

    private async Task ProbeLoopAsync(Upstream upstream, UpstreamServer server, CancellationToken cancellationToken)
    {
        var check = upstream.HealthCheck;
        var interval = TimeSpan.FromSeconds(check.IntervalSeconds > 0 ? check.IntervalSeconds : DefaultIntervalSeconds);
        var timeout = TimeSpan.FromSeconds(check.TimeoutSeconds > 0 ? check.TimeoutSeconds : DefaultTimeoutSeconds);
        var rise = check.HealthyThreshold > 0 ? (int)check.HealthyThreshold : DefaultHealthyThreshold;
        var fall = check.UnhealthyThreshold > 0 ? (int)check.UnhealthyThreshold : DefaultUnhealthyThreshold;
        var path = check.Path is { Length: > 0 } p && p.StartsWith('/') ? p : "/" + check.Path;
        var key = (upstream.Id, server.Address);
        _state.GetOrAdd(key, _ => new UpstreamServerHealth(upstream.Id, server.Address, ServerHealth.Unknown, 0, 0, ""));
        try
        {
            using var timer = new PeriodicTimer(interval);
            do
            {
                var (ok, detail) = await ProbeAsync(server.Address, path, timeout, cancellationToken);
                if (cancellationToken.IsCancellationRequested)
                {
                    return;
                }
                var before = _state[key];
                var successes = ok ? before.ConsecutiveSuccesses + 1 : 0;
                var failures = ok ? 0 : before.ConsecutiveFailures + 1;
                var health = before.Health;
                if (ok && successes >= rise)
                {
                    health = ServerHealth.Healthy;
                }
                else if (!ok && failures >= fall)
                {
                    health = ServerHealth.Unhealthy;
                }
                _state[key] = before with { Health = health, ConsecutiveSuccesses = successes, ConsecutiveFailures = failures, LastResult = detail };
                if (health != before.Health)
                {
                    LogTransition(upstream.Id, server.Address, health, detail);
                    _facts.Record(LocalFacts.UpstreamServerHealth, new Dictionary<string, string>
                    {
                        ["upstream_id"] = upstream.Id,
                        ["upstream_name"] = upstream.Name,
                        ["address"] = server.Address,
                        ["health"] = health.ToString().ToLowerInvariant(),
                        ["detail"] = detail,
                    });
                }
            }
            while (await timer.WaitForNextTickAsync(cancellationToken));
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task<(bool Ok, string Detail)> ProbeAsync(string address, string path, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (address.StartsWith("unix:", StringComparison.Ordinal))
        {
            return (false, "unix sockets are not probed");
        }
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        attempt.CancelAfter(timeout);
        try
        {
            using var response = await _http.GetAsync(new Uri($"http://{address}{path}"), HttpCompletionOption.ResponseHeadersRead, attempt.Token);
            var code = (int)response.StatusCode;
            return (code is >= 200 and < 400, "HTTP " + code.ToString(CultureInfo.InvariantCulture));
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (false, $"no answer within {timeout.TotalSeconds} s");
        }
        catch (HttpRequestException ex)
        {
            return (false, ex.Message);
        }
        catch (UriFormatException ex)
        {
            return (false, ex.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "upstream {UpstreamId} server {Address} is now {Health} ({Detail})")]
    private partial void LogTransition(string upstreamId, string address, ServerHealth health, string detail);
}
