using System.Collections.Concurrent;
using System.Diagnostics;
using NxMesh.Protocol.V1;
using NxMesh.Testing;

namespace NxMesh.Agent.Tests;

/// <summary>
/// Trace context hub → agent: a ConfigUpdate's or Command's traceparent (the REST call's trace, relayed by the
/// AgentHub) parents the agent's apply and command spans on the "NxMesh" source.
/// </summary>
public sealed class TraceContextTests : IDisposable
{
    private readonly ConcurrentQueue<Activity> _stopped = new();
    private readonly ActivityListener _listener;

    public TraceContextTests()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == Microsoft.Extensions.Hosting.Extensions.ActivitySourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = _stopped.Enqueue,
        };
        ActivitySource.AddActivityListener(_listener);
    }

    public void Dispose() => _listener.Dispose();

    [Fact]
    public async Task The_apply_and_command_spans_join_the_trace_of_the_rest_call_that_caused_them()
    {
        await using var upstream = TestUpstream.Start("traced");
        await using var agent = await TestAgent.StartAsync();
        var restCall = ActivityContext.Parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", null);

        var update = TestRenderer.Update(1, (Ports.Free(), upstream.Address));
        update.Traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        var statuses = await agent.ApplyAsync(update);
        Assert.Equal(ConfigApplyStatus.Success, statuses[^1].Status);
        var apply = await StoppedAsync(a => a.OperationName == "apply config" && a.TraceId == restCall.TraceId);
        Assert.Equal(restCall.SpanId, apply.ParentSpanId);
        Assert.Equal(update.ConfigId, apply.GetTagItem("nxmesh.config_id"));

        var command = new Command
        {
            CommandId = "traced-1",
            GetStatus = new GetStatusCommand(),
            Traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        };
        Assert.True((await agent.Commands.HandleAsync(command, CancellationToken.None)).Success);
        var handled = await StoppedAsync(a => a.TraceId == ActivityTraceId.CreateFromString("0af7651916cd43dd8448eb211c80319c"));
        Assert.Equal(ActivitySpanId.CreateFromString("b7ad6b7169203331"), handled.ParentSpanId);
        Assert.Equal("traced-1", handled.GetTagItem("nxmesh.command_id"));
    }

    [Fact]
    public async Task Without_a_traceparent_the_apply_span_starts_its_own_trace()
    {
        await using var upstream = TestUpstream.Start("untraced");
        await using var agent = await TestAgent.StartAsync();
        var update = TestRenderer.Update(1, (Ports.Free(), upstream.Address));
        Assert.Equal(ConfigApplyStatus.Success, (await agent.ApplyAsync(update))[^1].Status);
        var apply = await StoppedAsync(a => a.OperationName == "apply config" && (string?)a.GetTagItem("nxmesh.config_id") == update.ConfigId);
        Assert.Equal(default, apply.ParentSpanId);
    }

    /// <summary>The one stopped span matching <paramref name="match"/> (a span ends just after the status it reports).</summary>
    private async Task<Activity> StoppedAsync(Func<Activity, bool> match)
    {
        await Wait.UntilAsync(() => Task.FromResult(_stopped.Any(match)), TimeSpan.FromSeconds(5), "the span");
        return Assert.Single(_stopped, a => match(a));
    }
}
