using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Trace;
using Xunit;

namespace NxMesh.Api.Tests;

/// <summary>
/// Trace sampling is configurable without code (issue 9): the OpenTelemetry SDK behind ServiceDefaults honours the
/// standard OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG from configuration (environment).
/// </summary>
public sealed class TraceSamplingTests
{
    [Fact]
    public void OTEL_TRACES_SAMPLER_chooses_the_sampler()
    {
        Assert.True(StartRootSpan(new() { ["OTEL_TRACES_SAMPLER"] = "always_on" }).Recorded);
        Assert.False(StartRootSpan(new() { ["OTEL_TRACES_SAMPLER"] = "traceidratio", ["OTEL_TRACES_SAMPLER_ARG"] = "0" }).Recorded);
        Assert.True(StartRootSpan(new() { ["OTEL_TRACES_SAMPLER"] = "parentbased_traceidratio", ["OTEL_TRACES_SAMPLER_ARG"] = "1" }).Recorded);
    }

    /// <summary>A root span from the host's own ActivitySource (a name no other test listens to).</summary>
    private static (bool Recorded, ActivityTraceId TraceId) StartRootSpan(Dictionary<string, string?> configuration)
    {
        var name = "sampling-test-" + Guid.NewGuid().ToString("N");
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { ApplicationName = name, DisableDefaults = true });
        foreach (var (key, value) in configuration)
        {
            builder.Configuration[key] = value;
        }
        builder.ConfigureOpenTelemetry();
        using var host = builder.Build();
        using var provider = host.Services.GetRequiredService<TracerProvider>();
        using var source = new ActivitySource(name);
        var previous = Activity.Current;
        Activity.Current = null;
        try
        {
            using var activity = source.StartActivity("root");
            Assert.NotNull(activity);
            return (activity.Recorded, activity.TraceId);
        }
        finally
        {
            Activity.Current = previous;
        }
    }
}
