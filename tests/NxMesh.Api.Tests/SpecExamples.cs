using System.Text.Json;
using System.Text.RegularExpressions;
using Xunit;

namespace NxMesh.Api.Tests;

/// <summary>
/// The JSON examples of the API contract, parsed from the spec itself (a copy in Spec/), keyed by the heading of
/// their section ("Login", "List Organizations" …).
/// </summary>
public static partial class SpecExamples
{
    private static readonly Lazy<Dictionary<string, Section>> Sections = new(Parse);

    public static JsonElement Response(string heading) =>
        Get(heading).Responses.FirstOrDefault() is { ValueKind: not JsonValueKind.Undefined } json ? json : throw new InvalidOperationException($"No response example under '{heading}'");

    public static JsonElement Request(string heading) =>
        Get(heading).Request ?? throw new InvalidOperationException($"No request body under '{heading}'");

    /// <summary>The error envelope example.</summary>
    public static JsonElement Error() => Get("Error").Responses[0];

    private static Section Get(string heading) =>
        Sections.Value.TryGetValue(heading, out var section) ? section : throw new InvalidOperationException($"No section '{heading}' in the spec");

    private static Dictionary<string, Section> Parse()
    {
        var text = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Spec", "nxmesh-api.md"));
        var sections = new Dictionary<string, Section>(StringComparer.Ordinal);
        string? heading = null;
        foreach (Match match in Block().Matches(text))
        {
            if (match.Groups["heading"].Success)
            {
                heading = match.Groups["heading"].Value.Trim();
                sections.TryAdd(heading, new Section());
                continue;
            }
            if (heading is null)
            {
                continue;
            }
            var section = sections[heading];
            var body = match.Groups["body"].Value;
            if (match.Groups["lang"].Value == "json")
            {
                section.Responses.Add(JsonDocument.Parse(body).RootElement.Clone());
            }
            else if (match.Groups["lang"].Value == "http")
            {
                var blank = body.IndexOf("\n\n", StringComparison.Ordinal);
                if (blank >= 0 && body[blank..].Trim().Length > 0)
                {
                    section.Request = JsonDocument.Parse(body[blank..]).RootElement.Clone();
                }
            }
        }
        return sections;
    }

    [GeneratedRegex("^#{2,4} (?<heading>[^\n]+)$|^```(?<lang>\\w+)\\n(?<body>.*?)^```", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex Block();

    private sealed class Section
    {
        public List<JsonElement> Responses { get; } = [];
        public JsonElement? Request { get; set; }
    }

    /// <summary>
    /// Asserts that <paramref name="actual"/> has the example's field names, nesting and JSON types (timestamps as
    /// RFC 3339 UTC with "Z", UUIDs as UUIDs). <paramref name="extras"/> lists fields the implementation adds.
    /// <paramref name="nullable"/> lists paths that may be null where the example shows a value.
    /// </summary>
    public static void AssertShape(JsonElement expected, JsonElement actual, IEnumerable<string>? extras = null, IEnumerable<string>? nullable = null)
    {
        var errors = new List<string>();
        Compare(expected, actual, "$", new HashSet<string>(extras ?? []), new HashSet<string>(nullable ?? []), errors);
        Assert.True(errors.Count == 0, string.Join("\n", errors) + "\nactual: " + actual);
    }

    private static void Compare(JsonElement expected, JsonElement actual, string path, HashSet<string> extras, HashSet<string> nullable, List<string> errors)
    {
        if (actual.ValueKind == JsonValueKind.Null && expected.ValueKind != JsonValueKind.Null)
        {
            if (!nullable.Contains(path))
            {
                errors.Add($"{path}: null where the spec shows {expected.ValueKind}");
            }
            return;
        }
        switch (expected.ValueKind)
        {
            case JsonValueKind.Object:
                if (actual.ValueKind != JsonValueKind.Object)
                {
                    errors.Add($"{path}: {actual.ValueKind} where the spec shows an object");
                    return;
                }
                if (path.EndsWith(".labels", StringComparison.Ordinal))
                {
                    // A label map: its keys are data, its values strings.
                    if (actual.EnumerateObject().Any(p => p.Value.ValueKind != JsonValueKind.String))
                    {
                        errors.Add($"{path}: label values must be strings");
                    }
                    return;
                }
                foreach (var property in expected.EnumerateObject())
                {
                    if (actual.TryGetProperty(property.Name, out var value))
                    {
                        Compare(property.Value, value, $"{path}.{property.Name}", extras, nullable, errors);
                    }
                    else
                    {
                        errors.Add($"{path}.{property.Name}: missing");
                    }
                }
                foreach (var property in actual.EnumerateObject())
                {
                    if (!expected.TryGetProperty(property.Name, out _) && !extras.Contains($"{path}.{property.Name}"))
                    {
                        errors.Add($"{path}.{property.Name}: not in the spec");
                    }
                }
                break;
            case JsonValueKind.Array:
                if (actual.ValueKind != JsonValueKind.Array)
                {
                    errors.Add($"{path}: {actual.ValueKind} where the spec shows an array");
                    return;
                }
                if (expected.GetArrayLength() > 0)
                {
                    foreach (var item in actual.EnumerateArray())
                    {
                        Compare(expected[0], item, $"{path}[]", extras, nullable, errors);
                    }
                }
                break;
            case JsonValueKind.String:
                if (actual.ValueKind != JsonValueKind.String)
                {
                    errors.Add($"{path}: {actual.ValueKind} where the spec shows a string");
                    return;
                }
                var example = expected.GetString()!;
                var value2 = actual.GetString()!;
                if (Timestamp().IsMatch(example) && !Timestamp().IsMatch(value2))
                {
                    errors.Add($"{path}: '{value2}' is not an RFC 3339 UTC timestamp like '{example}'");
                }
                if (Guid.TryParse(example, out _) && !Guid.TryParse(value2, out _))
                {
                    errors.Add($"{path}: '{value2}' is not a UUID");
                }
                break;
            case JsonValueKind.Number:
                if (actual.ValueKind != JsonValueKind.Number)
                {
                    errors.Add($"{path}: {actual.ValueKind} where the spec shows a number");
                }
                else if (expected.TryGetInt64(out _) && !expected.GetRawText().Contains('.') && !actual.TryGetInt64(out _))
                {
                    errors.Add($"{path}: {actual.GetRawText()} where the spec shows an integer");
                }
                break;
            case JsonValueKind.True or JsonValueKind.False:
                if (actual.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
                {
                    errors.Add($"{path}: {actual.ValueKind} where the spec shows a boolean");
                }
                break;
        }
    }

    [GeneratedRegex("^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}Z$")]
    private static partial Regex Timestamp();
}
