using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;
using NxMesh.Agent.Apply;
using NxMesh.Agent.Nginx;
using NxMesh.Nginx;
using NxMesh.Protocol.V1;

namespace NxMesh.Agent.Health;

/// <summary>
/// A HealthReport: nginx from its master process and stub_status (loopback listener), the host from /proc, the
/// applied config's checksum and version, and the local-fact alerts.
/// </summary>
internal sealed partial class HealthCollector : IDisposable
{
    private readonly AgentOptions _options;
    private readonly INginxControl _control;
    private readonly ConfigApplier _applier;
    private readonly LocalFacts _facts;
    private readonly TimeProvider _time;
    private readonly SystemSampler _system;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(2) };
    private readonly Lock _gate = new();
    private (ulong Requests, long Timestamp)? _lastRequests;

    public HealthCollector(IOptions<AgentOptions> options, INginxControl control, ConfigApplier applier, LocalFacts facts, TimeProvider time)
    {
        _options = options.Value;
        _control = control;
        _applier = applier;
        _facts = facts;
        _time = time;
        _system = new SystemSampler(Path.GetFullPath(_options.StateDirectory));
    }

    public async Task<HealthReport> CollectAsync(CancellationToken cancellationToken)
    {
        var nginx = new NginxStatus();
        if (_control.MasterPid is { } pid)
        {
            nginx.IsRunning = true;
            nginx.Pid = (uint)pid;
            nginx.UptimeSeconds = Uptime(pid);
            if (await ReadStubStatusAsync(cancellationToken) is { } stub)
            {
                nginx.ActiveConnections = stub.Active;
                nginx.TotalRequests = stub.Requests;
                nginx.RequestsPerSecond = RequestsPerSecond(stub.Requests);
            }
        }
        var report = new HealthReport { Nginx = nginx, System = SampleSystem() };
        if (_applier.Current is { IsBase: false } current)
        {
            report.ConfigChecksum = current.ConfigId;
            report.ConfigVersion = current.Version;
        }
        report.Alerts.AddRange(_facts.CurrentAlerts(nginx.IsRunning));
        return report;
    }

    public void Dispose() => _http.Dispose();

    private SystemMetrics SampleSystem()
    {
        lock (_gate)
        {
            return _system.Sample();
        }
    }

    private float RequestsPerSecond(ulong requests)
    {
        lock (_gate)
        {
            var now = _time.GetTimestamp();
            var previous = _lastRequests;
            _lastRequests = (requests, now);
            if (previous is not { } p || requests < p.Requests)
            {
                return 0;
            }
            var seconds = _time.GetElapsedTime(p.Timestamp, now).TotalSeconds;
            return seconds <= 0 ? 0 : (float)Math.Round((requests - p.Requests) / seconds, 2);
        }
    }

    private static ulong Uptime(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return (ulong)Math.Max(0, (DateTime.Now - process.StartTime).TotalSeconds);
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
        {
            return 0;
        }
    }

    private async Task<(uint Active, ulong Requests)?> ReadStubStatusAsync(CancellationToken cancellationToken)
    {
        try
        {
            var text = await _http.GetStringAsync($"http://127.0.0.1:{_options.StubStatusPort}{BaseConfigRenderer.StubStatusPath}", cancellationToken);
            return ParseStubStatus(text);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return null;
        }
    }

    /// <summary>"Active connections: 1 \nserver accepts handled requests\n 5 5 9 \n...".</summary>
    internal static (uint Active, ulong Requests)? ParseStubStatus(string text)
    {
        var match = StubStatus().Match(text);
        return match.Success
            ? (uint.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture), ulong.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture))
            : null;
    }

    [GeneratedRegex(@"Active connections:\s*(\d+)\s+server accepts handled requests\s+\d+\s+\d+\s+(\d+)")]
    private static partial Regex StubStatus();
}
