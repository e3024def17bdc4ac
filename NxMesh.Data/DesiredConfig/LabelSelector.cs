namespace NxMesh.Data.DesiredConfig;

/// <summary>
/// A minimal Kubernetes label selector (<c>k=v</c>, <c>k==v</c>, <c>k!=v</c>, <c>k</c>, <c>!k</c>,
/// <c>k in (a,b)</c>, <c>k notin (a,b)</c>, comma-separated and ANDed). Internal until the REST API's parser is
/// merged; <see cref="TargetMatcher.SelectorMatches"/> is the single call site to rewire.
/// </summary>
internal sealed class LabelSelector
{
    private readonly List<Requirement> _requirements;

    private LabelSelector(List<Requirement> requirements) => _requirements = requirements;

    public bool Matches(IReadOnlyDictionary<string, string> labels) => _requirements.TrueForAll(r => r.Matches(labels));

    public static bool TryParse(string? text, out LabelSelector selector)
    {
        selector = new LabelSelector([]);
        if (string.IsNullOrWhiteSpace(text))
        {
            // Kubernetes: the empty selector selects everything.
            return true;
        }
        var requirements = new List<Requirement>();
        foreach (var part in SplitTopLevel(text))
        {
            var term = part.Trim();
            if (term.Length == 0 || !TryParseTerm(term, out var requirement))
            {
                return false;
            }
            requirements.Add(requirement);
        }
        selector = new LabelSelector(requirements);
        return true;
    }

    private static bool TryParseTerm(string term, out Requirement requirement)
    {
        requirement = default!;
        if (term.StartsWith('!'))
        {
            var key = term[1..].Trim();
            requirement = new Requirement(key, Op.NotExists, []);
            return IsKey(key);
        }
        foreach (var (token, op) in new[] { ("!=", Op.NotEquals), ("==", Op.Equals), ("=", Op.Equals) })
        {
            var at = term.IndexOf(token, StringComparison.Ordinal);
            if (at > 0)
            {
                var key = term[..at].Trim();
                var value = term[(at + token.Length)..].Trim();
                requirement = new Requirement(key, op, [value]);
                return IsKey(key) && IsValue(value);
            }
        }
        var space = term.IndexOf(' ', StringComparison.Ordinal);
        if (space > 0)
        {
            var key = term[..space].Trim();
            var rest = term[space..].Trim();
            var setOp = rest.StartsWith("notin", StringComparison.Ordinal) ? Op.NotIn
                : rest.StartsWith("in", StringComparison.Ordinal) ? Op.In
                : (Op?)null;
            if (setOp is null)
            {
                return false;
            }
            var set = rest[(setOp == Op.NotIn ? 5 : 2)..].Trim();
            if (!set.StartsWith('(') || !set.EndsWith(')'))
            {
                return false;
            }
            var values = set[1..^1].Split(',').Select(v => v.Trim()).ToList();
            requirement = new Requirement(key, setOp.Value, values);
            return IsKey(key) && values.Count > 0 && values.TrueForAll(IsValue);
        }
        requirement = new Requirement(term, Op.Exists, []);
        return IsKey(term);
    }

    private static IEnumerable<string> SplitTopLevel(string text)
    {
        var depth = 0;
        var start = 0;
        for (var i = 0; i < text.Length; i++)
        {
            depth += text[i] switch { '(' => 1, ')' => -1, _ => 0 };
            if (text[i] == ',' && depth == 0)
            {
                yield return text[start..i];
                start = i + 1;
            }
        }
        yield return text[start..];
    }

    private static bool IsKey(string key) =>
        key.Length is > 0 and <= 317 && key.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '/');

    private static bool IsValue(string value) =>
        value.Length <= 63 && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    private enum Op { Equals, NotEquals, In, NotIn, Exists, NotExists }

    private sealed record Requirement(string Key, Op Op, List<string> Values)
    {
        public bool Matches(IReadOnlyDictionary<string, string> labels)
        {
            var has = labels.TryGetValue(Key, out var value);
            return Op switch
            {
                Op.Equals => has && value == Values[0],
                Op.NotEquals => !has || value != Values[0],
                Op.In => has && Values.Contains(value!),
                Op.NotIn => !has || !Values.Contains(value!),
                Op.Exists => has,
                Op.NotExists => !has,
                _ => false,
            };
        }
    }
}
