using NxMesh.Data.Entities;
using NxMesh.Data.Labels;

namespace NxMesh.Data.DesiredConfig;

/// <summary>Decides whether a virtual host's <c>target_agents</c> selects an agent.</summary>
public static class TargetMatcher
{
    public static bool Matches(TargetAgents target, Guid agentId, IReadOnlyDictionary<string, string> labels) =>
        target.Type switch
        {
            TargetAgentsType.All => true,
            TargetAgentsType.Agents => target.AgentIds.Contains(agentId),
            TargetAgentsType.Selector => SelectorMatches(target.LabelSelector, labels),
            _ => false,
        };

    /// <summary>
    /// The one place the label-selector case is decided. A selector that does not parse selects nothing (the REST
    /// API refuses such selectors with 422, so this only guards rows written some other way).
    /// </summary>
    public static bool SelectorMatches(string? selector, IReadOnlyDictionary<string, string> labels) =>
        LabelSelector.TryParse(selector, out var parsed, out _) && parsed.Matches(labels);
}
