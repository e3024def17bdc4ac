using System.Collections.Concurrent;
using NxMesh.Nginx.Rendering;
using NxMesh.Nginx.Tests.Support;
using NxMesh.Nginx.Validation;
using NxMesh.Protocol.V1;
using Xunit;

namespace NxMesh.Nginx.Tests.Rendering;

public sealed class PropertyTests
{
    private const int Seed = 20261127;
    private const int Count = 520;

    private static readonly NginxHostSettings Host = new()
    {
        ListenAddress = "127.0.0.1",
        StubStatusPort = 8099,
        AllowedRootDirectories = ["/srv/www"],
    };

    [Fact]
    public async Task Every_generated_valid_config_passes_nginx_test_on_its_own()
    {
        var generator = new ConfigGenerator(Seed);
        var updates = Enumerable.Range(0, Count).Select(_ => generator.Next()).ToArray();

        foreach (var update in updates)
        {
            var issues = ConfigUpdateValidator.Validate(update);
            Assert.True(issues.Count == 0, $"generator produced an invalid config {update.ConfigId}: {string.Join("; ", issues)}");
        }
        AssertEveryFeatureWasGenerated(generator.Features);

        // Each config is checked by its own `nginx -t`, two at a time.
        var failures = new ConcurrentBag<string>();
        await Parallel.ForEachAsync(updates, new ParallelOptions { MaxDegreeOfParallelism = 2 }, async (update, _) =>
        {
            var rendered = ConfigRenderer.Render(update, Host, NginxCapabilities.Standard);
            Assert.Equal(rendered.MainConfig, ConfigRenderer.Render(update, Host, NginxCapabilities.Standard).MainConfig);
            var (ok, output) = await NginxHarness.TestAsync(rendered);
            if (!ok)
            {
                failures.Add($"{update.ConfigId}: {output}\n{rendered.MainConfig}");
            }
        });
        Assert.True(failures.IsEmpty, $"{failures.Count} of {Count} configs failed nginx -t; first:\n{failures.FirstOrDefault()}");
    }

    private static void AssertEveryFeatureWasGenerated(HashSet<string> features)
    {
        var expected = new List<string>();
        expected.AddRange(Enum.GetValues<LoadBalanceAlgorithm>().Select(a => "algorithm:" + a));
        foreach (var flag in new[] { "backup", "down", "weight", "max_fails", "fail_timeout", "keepalive", "ssl", "http2", "http3", "header_always" })
        {
            expected.Add(flag + ":on");
            expected.Add(flag + ":off");
        }
        expected.AddRange(new[] { "", "last", "break", "redirect", "permanent" }.Select(f => "rewrite_flag:" + f));
        expected.AddRange(Enumerable.Range(0, 5).Select(i => "path:" + i));
        expected.AddRange(Enumerable.Range(0, 5).Select(i => "target:" + i));
        expected.AddRange(Enumerable.Range(0, 6).Select(i => "server_name:" + i));
        expected.AddRange(Enumerable.Range(0, 3).Select(i => "server_address:" + i));
        expected.AddRange(["health_check", "env_vars", "header", "port:80", "port:8080", "port:443", "port:8443", "port:9443"]);
        foreach (var rule in CustomDirectives.Allowlist.Values)
        {
            foreach (var (context, name) in new[] { (DirectiveContext.Http, "http"), (DirectiveContext.Server, "server"), (DirectiveContext.Location, "location") })
            {
                if ((rule.Contexts & context) != 0)
                {
                    expected.Add($"directive:{name}:{rule.Name}");
                }
            }
        }
        var missing = expected.Where(f => !features.Contains(f)).ToArray();
        Assert.True(missing.Length == 0, "never generated: " + string.Join(", ", missing));
    }
}
