using System.Collections.Immutable;
using System.Text.RegularExpressions;

namespace NxMesh.Api.Events;

/// <summary>
/// Glob patterns over event types: <c>*</c> matches any run of characters (dots included), everything else
/// matches itself. <c>*</c> alone is every event; <c>agent.*</c> every agent event; <c>health.alert</c> one type.
/// </summary>
public static partial class EventPattern
{
    public const int MaxLength = 100;

    public static bool IsValid(string? pattern) => pattern is { Length: > 0 and <= MaxLength } && Allowed().IsMatch(pattern);

    public static bool Matches(string pattern, string type)
    {
        // Iterative glob with backtracking to the last '*': linear in practice, no regex per event.
        int p = 0, t = 0, star = -1, mark = 0;
        while (t < type.Length)
        {
            if (p < pattern.Length && pattern[p] == '*')
            {
                star = p++;
                mark = t;
            }
            else if (p < pattern.Length && pattern[p] == type[t])
            {
                p++;
                t++;
            }
            else if (star >= 0)
            {
                p = star + 1;
                t = ++mark;
            }
            else
            {
                return false;
            }
        }
        while (p < pattern.Length && pattern[p] == '*')
        {
            p++;
        }
        return p == pattern.Length;
    }

    [GeneratedRegex("^[a-z0-9_.*-]+$")]
    private static partial Regex Allowed();
}

/// <summary>One subscription: a pattern, optionally limited to one workspace.</summary>
public sealed record Subscription(string Pattern, Guid? WorkspaceId);

/// <summary>
/// A connection's subscriptions (immutable; the connection swaps the whole set). Nothing matches before a first
/// subscribe. An event is delivered once if any subscription matches its type and workspace, and only when the
/// workspace is one the user can read — a filter never widens what the user may see.
/// </summary>
public sealed class Subscriptions
{
    public static readonly Subscriptions None = new(ImmutableHashSet<Subscription>.Empty);

    private Subscriptions(ImmutableHashSet<Subscription> items) => Items = items;

    public ImmutableHashSet<Subscription> Items { get; }

    public Subscriptions Subscribe(IEnumerable<string> patterns, Guid? workspaceId) =>
        new(Items.Union(patterns.Select(p => new Subscription(p, workspaceId))));

    /// <summary>
    /// Removes <paramref name="patterns"/> (all patterns when null) from the subscriptions filtered on
    /// <paramref name="workspaceId"/> — or, without a filter, from every subscription (filtered or not).
    /// </summary>
    public Subscriptions Unsubscribe(IReadOnlyCollection<string>? patterns, Guid? workspaceId) =>
        new(Items.Where(s => !((patterns is null || patterns.Contains(s.Pattern)) && (workspaceId is null || s.WorkspaceId == workspaceId))).ToImmutableHashSet());

    public bool Matches(string type, Guid workspaceId, IReadOnlySet<Guid> readable)
    {
        if (!readable.Contains(workspaceId))
        {
            return false;
        }
        foreach (var subscription in Items)
        {
            if ((subscription.WorkspaceId is null || subscription.WorkspaceId == workspaceId) && EventPattern.Matches(subscription.Pattern, type))
            {
                return true;
            }
        }
        return false;
    }
}
