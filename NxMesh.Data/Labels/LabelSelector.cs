namespace NxMesh.Data.Labels;

/// <summary>
/// A parsed Kubernetes equality/set-based label selector: <c>k=v</c>, <c>k==v</c>, <c>k!=v</c>,
/// <c>k in (a,b)</c>, <c>k notin (a)</c>, <c>k</c>, <c>!k</c>; a comma joins requirements with AND.
/// The empty selector matches everything. Pure logic: the Api filters agents with it, AgentHub matches
/// virtual-host <c>target_agents</c> with it.
/// </summary>
public sealed class LabelSelector
{
    private LabelSelector(IReadOnlyList<LabelRequirement> requirements) => Requirements = requirements;

    public static LabelSelector Everything { get; } = new([]);

    public IReadOnlyList<LabelRequirement> Requirements { get; }

    public bool Matches(IReadOnlyDictionary<string, string> labels)
    {
        foreach (var requirement in Requirements)
        {
            if (!requirement.Matches(labels))
            {
                return false;
            }
        }
        return true;
    }

    public static LabelSelector Parse(string? text) =>
        TryParse(text, out var selector, out var error) ? selector : throw new FormatException(error);

    public static bool TryParse(string? text, out LabelSelector selector, out string error)
    {
        selector = Everything;
        error = "";
        if (string.IsNullOrWhiteSpace(text))
        {
            return true;
        }
        var requirements = new List<LabelRequirement>();
        var parser = new Parser(text);
        while (true)
        {
            if (!parser.TryRequirement(out var requirement, out error))
            {
                return false;
            }
            requirements.Add(requirement);
            parser.SkipSpaces();
            if (parser.AtEnd)
            {
                break;
            }
            if (!parser.TryConsume(','))
            {
                error = $"Expected ',' at position {parser.Position} of the label selector.";
                return false;
            }
        }
        selector = new LabelSelector(requirements);
        return true;
    }

    public override string ToString() => string.Join(',', Requirements);

    private sealed class Parser(string text)
    {
        public int Position { get; private set; }
        public bool AtEnd => Position >= text.Length;

        public void SkipSpaces()
        {
            while (!AtEnd && text[Position] == ' ')
            {
                Position++;
            }
        }

        public bool TryConsume(char c)
        {
            SkipSpaces();
            if (!AtEnd && text[Position] == c)
            {
                Position++;
                return true;
            }
            return false;
        }

        private bool TryConsume(string s)
        {
            SkipSpaces();
            if (string.CompareOrdinal(text, Position, s, 0, s.Length) == 0)
            {
                Position += s.Length;
                return true;
            }
            return false;
        }

        public bool TryRequirement(out LabelRequirement requirement, out string error)
        {
            requirement = null!;
            SkipSpaces();
            if (TryConsume('!'))
            {
                var absentKey = Word();
                if (KubernetesLabels.KeyError(absentKey) is { } absentError)
                {
                    error = absentError;
                    return false;
                }
                requirement = new LabelRequirement(absentKey, LabelOperator.DoesNotExist, []);
                error = "";
                return true;
            }
            var key = Word();
            if (KubernetesLabels.KeyError(key) is { } keyError)
            {
                error = AtEnd || key.Length > 0 ? keyError : $"Unexpected '{text[Position]}' at position {Position} of the label selector.";
                return false;
            }
            SkipSpaces();
            LabelOperator op;
            if (AtEnd || text[Position] == ',')
            {
                requirement = new LabelRequirement(key, LabelOperator.Exists, []);
                error = "";
                return true;
            }
            if (TryConsume("==") || TryConsume("="))
            {
                op = LabelOperator.Equals;
            }
            else if (TryConsume("!="))
            {
                op = LabelOperator.NotEquals;
            }
            else if (TryKeyword("notin"))
            {
                return TrySet(key, LabelOperator.NotIn, out requirement, out error);
            }
            else if (TryKeyword("in"))
            {
                return TrySet(key, LabelOperator.In, out requirement, out error);
            }
            else
            {
                error = $"Expected an operator (=, ==, !=, in, notin) after '{key}' at position {Position} of the label selector.";
                return false;
            }
            var value = Word();
            if (KubernetesLabels.ValueError(value) is { } valueError)
            {
                error = valueError;
                return false;
            }
            requirement = new LabelRequirement(key, op, [value]);
            error = "";
            return true;
        }

        private bool TryKeyword(string keyword)
        {
            SkipSpaces();
            var start = Position;
            if (!TryConsume(keyword))
            {
                return false;
            }
            // "in" must stand alone: "inx" is not the operator.
            if (!AtEnd && text[Position] != ' ' && text[Position] != '(')
            {
                Position = start;
                return false;
            }
            return true;
        }

        private bool TrySet(string key, LabelOperator op, out LabelRequirement requirement, out string error)
        {
            requirement = null!;
            if (!TryConsume('('))
            {
                error = $"Expected '(' after '{key} {(op == LabelOperator.In ? "in" : "notin")}' at position {Position} of the label selector.";
                return false;
            }
            var values = new List<string>();
            while (true)
            {
                var value = Word();
                if (KubernetesLabels.ValueError(value) is { } valueError)
                {
                    error = valueError;
                    return false;
                }
                values.Add(value);
                if (TryConsume(')'))
                {
                    break;
                }
                if (!TryConsume(','))
                {
                    error = $"Expected ',' or ')' at position {Position} of the label selector.";
                    return false;
                }
            }
            if (values.Count == 1 && values[0].Length == 0)
            {
                error = $"The set after '{key}' must name at least one value.";
                return false;
            }
            requirement = new LabelRequirement(key, op, values);
            error = "";
            return true;
        }

        private string Word()
        {
            SkipSpaces();
            var start = Position;
            while (!AtEnd && text[Position] is not (' ' or ',' or '=' or '!' or '(' or ')'))
            {
                Position++;
            }
            return text[start..Position];
        }
    }
}

public enum LabelOperator { Equals, NotEquals, In, NotIn, Exists, DoesNotExist }

public sealed record LabelRequirement(string Key, LabelOperator Operator, IReadOnlyList<string> Values)
{
    public bool Matches(IReadOnlyDictionary<string, string> labels)
    {
        var has = labels.TryGetValue(Key, out var value);
        return Operator switch
        {
            LabelOperator.Exists => has,
            LabelOperator.DoesNotExist => !has,
            LabelOperator.Equals or LabelOperator.In => has && Values.Contains(value!, StringComparer.Ordinal),
            // As in Kubernetes: a missing key satisfies != and notin.
            LabelOperator.NotEquals or LabelOperator.NotIn => !has || !Values.Contains(value!, StringComparer.Ordinal),
            _ => false,
        };
    }

    public override string ToString() => Operator switch
    {
        LabelOperator.Exists => Key,
        LabelOperator.DoesNotExist => "!" + Key,
        LabelOperator.Equals => $"{Key}={Values[0]}",
        LabelOperator.NotEquals => $"{Key}!={Values[0]}",
        LabelOperator.In => $"{Key} in ({string.Join(',', Values)})",
        _ => $"{Key} notin ({string.Join(',', Values)})",
    };
}
