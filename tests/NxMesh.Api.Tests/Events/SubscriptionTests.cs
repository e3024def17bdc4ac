using NxMesh.Api.Events;
using Xunit;

namespace NxMesh.Api.Tests.Events;

public sealed class SubscriptionTests
{
    public static TheoryData<string, string, bool> Patterns => new()
    {
        { "*", "agent.connected", true },
        { "*", "certificate.issued", true },
        { "agent.*", "agent.connected", true },
        { "agent.*", "agent.state_changed", true },
        { "agent.*", "agent", false },
        { "agent.*", "agents.connected", false },
        { "agent.*", "config.applied", false },
        { "config.*", "config.drift_detected", true },
        { "health.alert", "health.alert", true },
        { "health.alert", "health.alerts", false },
        { "health.alert", "health.resolved", false },
        { "*.applied", "config.applied", true },
        { "*.applied", "config.applied.v2", false },
        { "cert*.*ed", "certificate.renewed", true },
        { "cert*.*ed", "certificate.failed", true },
        { "cert*.*ed", "certificate.pending", false },
        { "a*b*c", "abxxbyc", true },
        { "a*b*c", "abxxbyd", false },
        { "**", "x", true },
        { "agent.connected*", "agent.connected", true },
    };

    [Theory]
    [MemberData(nameof(Patterns))]
    public void Patterns_are_globs_over_event_types(string pattern, string type, bool matches)
    {
        Assert.True(EventPattern.IsValid(pattern));
        Assert.Equal(matches, EventPattern.Matches(pattern, type));
    }

    [Theory]
    [InlineData("")]
    [InlineData("Agent.*")]
    [InlineData("agent.?")]
    [InlineData("agent connected")]
    [InlineData("agent.[a-z]")]
    [InlineData(null)]
    public void Invalid_patterns_are_refused(string? pattern) => Assert.False(EventPattern.IsValid(pattern));

    [Fact]
    public void An_overlong_pattern_is_refused() => Assert.False(EventPattern.IsValid(new string('a', EventPattern.MaxLength + 1)));

    private static readonly Guid W1 = Guid.NewGuid();
    private static readonly Guid W2 = Guid.NewGuid();
    private static readonly Guid Foreign = Guid.NewGuid();
    private static readonly HashSet<Guid> Readable = [W1, W2];

    /// <summary>Steps applied in order, then which (type, workspace) pairs are delivered.</summary>
    public static TheoryData<string, Func<Subscriptions, Subscriptions>, (string Type, Guid Workspace, bool Delivered)[]> Semantics => new()
    {
        { "nothing before a first subscribe", s => s, [("agent.connected", W1, false)] },
        { "unfiltered covers every readable workspace, never a foreign one", s => s.Subscribe(["*"], null),
            [("agent.connected", W1, true), ("health.alert", W2, true), ("agent.connected", Foreign, false)] },
        { "a filter narrows to one workspace", s => s.Subscribe(["agent.*"], W1),
            [("agent.connected", W1, true), ("agent.connected", W2, false), ("config.applied", W1, false)] },
        { "a filter on a foreign workspace never delivers (it is refused before this point too)", s => s.Subscribe(["*"], Foreign),
            [("agent.connected", Foreign, false)] },
        { "subscriptions add up", s => s.Subscribe(["agent.*"], W1).Subscribe(["config.*"], W2),
            [("agent.connected", W1, true), ("config.applied", W2, true), ("config.applied", W1, false), ("agent.connected", W2, false)] },
        { "unsubscribe removes the pattern from every scope without a filter", s => s.Subscribe(["agent.*", "config.*"], null).Subscribe(["agent.*"], W1).Unsubscribe(["agent.*"], null),
            [("agent.connected", W1, false), ("config.applied", W2, true)] },
        { "unsubscribe with a filter touches only that scope", s => s.Subscribe(["agent.*"], null).Subscribe(["agent.*"], W1).Unsubscribe(["agent.*"], W1),
            [("agent.connected", W1, true), ("agent.connected", W2, true)] },
        { "unsubscribe without events removes every pattern", s => s.Subscribe(["agent.*", "health.*"], null).Unsubscribe(null, null),
            [("agent.connected", W1, false), ("health.alert", W1, false)] },
        { "unsubscribing what was never subscribed changes nothing", s => s.Subscribe(["health.*"], null).Unsubscribe(["agent.*"], null),
            [("health.resolved", W2, true)] },
        { "an exact name subscribes one type", s => s.Subscribe(["health.alert"], null),
            [("health.alert", W1, true), ("health.resolved", W1, false)] },
        { "subscribing twice is one subscription", s => s.Subscribe(["*"], null).Subscribe(["*"], null).Unsubscribe(["*"], null),
            [("agent.connected", W1, false)] },
    };

    [Theory]
    [MemberData(nameof(Semantics))]
    public void Subscribe_and_unsubscribe_semantics(string because, Func<Subscriptions, Subscriptions> steps, (string Type, Guid Workspace, bool Delivered)[] expected)
    {
        var subscriptions = steps(Subscriptions.None);
        foreach (var (type, workspace, delivered) in expected)
        {
            Assert.True(delivered == subscriptions.Matches(type, workspace, Readable), $"{because}: {type} in {(workspace == W1 ? "W1" : workspace == W2 ? "W2" : "foreign")} expected {(delivered ? "" : "not ")}delivered");
        }
    }
}
