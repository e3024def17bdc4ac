using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using NxMesh.Testing;
using OpenTelemetry.Instrumentation.AspNetCore;
using Xunit;

namespace NxMesh.AgentHub.Tests;

/// <summary>
/// The long-lived agent stream is not traced as a request span (one recorded Activity with its tags per connected
/// agent, for days); its unary siblings and the REST-like endpoints still are.
/// </summary>
[Collection(DatabaseCollection.Name)]
public sealed class StreamTracingTests(DatabaseFixture database)
{
    [Fact]
    public async Task The_agent_stream_call_is_filtered_from_request_tracing_and_unary_calls_are_not()
    {
        await using var hub = new HubFactory(database);
        var filter = hub.Services.GetRequiredService<IOptionsMonitor<AspNetCoreTraceInstrumentationOptions>>()
            .Get(Options.DefaultName).Filter;

        Assert.NotNull(filter);
        Assert.False(filter(Request(Microsoft.Extensions.Hosting.Extensions.AgentStreamPath)));
        Assert.False(filter(Request(Microsoft.Extensions.Hosting.Extensions.HealthEndpointPath)));
        Assert.True(filter(Request("/nxmesh.agent.v1.AgentService/ReportHealth")));
        Assert.True(filter(Request("/nxmesh.agent.v1.AgentService/ReportMetrics")));
    }

    private static DefaultHttpContext Request(string path) => new() { Request = { Path = path } };
}
