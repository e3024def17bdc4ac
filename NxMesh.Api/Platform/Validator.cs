using System.Text.RegularExpressions;
using NxMesh.Data.Labels;
using NxMesh.Nginx.Validation;

namespace NxMesh.Api.Platform;

/// <summary>Collects <c>details[]</c> for one request; <see cref="ThrowIfInvalid"/> answers 422 VALIDATION_ERROR.</summary>
public sealed partial class Validator
{
    public const int MaxNameLength = 200;
    private readonly List<ErrorDetail> _details = [];

    public bool IsValid => _details.Count == 0;
    public IReadOnlyList<ErrorDetail> Details => _details;

    public Validator Add(string field, string code, string message)
    {
        _details.Add(new ErrorDetail(field, message, code));
        return this;
    }

    public Validator Add(IEnumerable<ValidationIssue> issues)
    {
        _details.AddRange(issues.Select(ErrorDetail.From));
        return this;
    }

    public void ThrowIfInvalid()
    {
        if (_details.Count > 0)
        {
            throw ApiException.Validation(_details);
        }
    }

    /// <summary>Present and not blank.</summary>
    public bool Required(string field, object? value)
    {
        if (value is null || value is string s && string.IsNullOrWhiteSpace(s))
        {
            Add(field, ValidationCodes.Required, $"{field} is required");
            return false;
        }
        return true;
    }

    /// <summary>A display name: 1–200 characters, no control characters.</summary>
    public void Name(string field, string? value, bool required = true)
    {
        if (value is null)
        {
            if (required)
            {
                Required(field, value);
            }
            return;
        }
        if (string.IsNullOrWhiteSpace(value))
        {
            Add(field, ValidationCodes.Required, $"{field} must not be blank");
        }
        else if (value.Length > MaxNameLength)
        {
            Add(field, ValidationCodes.OutOfRange, $"{field} must be at most {MaxNameLength} characters");
        }
        else if (value.Any(char.IsControl))
        {
            Add(field, ValidationCodes.InvalidFormat, $"{field} must not contain control characters");
        }
    }

    /// <summary>A URL slug: lowercase letters, digits and '-', 1–63 characters, not starting or ending with '-'.</summary>
    public void Slug(string field, string? value, bool required = true)
    {
        if (value is null)
        {
            if (required)
            {
                Required(field, value);
            }
            return;
        }
        if (value.Length is 0 or > 63 || !SlugPattern().IsMatch(value))
        {
            Add(field, ValidationCodes.InvalidFormat, $"{field} must be 1–63 lowercase letters, digits or '-', starting and ending with a letter or digit");
        }
    }

    public void Email(string field, string? value)
    {
        if (!Required(field, value))
        {
            return;
        }
        if (value!.Length > 320 || !EmailPattern().IsMatch(value))
        {
            Add(field, ValidationCodes.InvalidFormat, $"{field} must be an email address");
        }
    }

    public void Range(string field, long? value, long min, long max)
    {
        if (value is { } v && (v < min || v > max))
        {
            Add(field, ValidationCodes.OutOfRange, $"{field} must be from {min} to {max}");
        }
    }

    /// <summary>Kubernetes label keys and values, at most <see cref="KubernetesLabels.MaxLabels"/>.</summary>
    public void Labels(string field, IReadOnlyDictionary<string, string?>? labels)
    {
        if (labels is null)
        {
            return;
        }
        if (labels.Count > KubernetesLabels.MaxLabels)
        {
            Add(field, ValidationCodes.OutOfRange, $"{field} may hold at most {KubernetesLabels.MaxLabels} labels");
        }
        foreach (var (key, value) in labels)
        {
            if (KubernetesLabels.KeyError(key) is { } keyError)
            {
                Add($"{field}.{key}", ValidationCodes.InvalidFormat, keyError);
            }
            else if (KubernetesLabels.ValueError(value) is { } valueError)
            {
                Add($"{field}.{key}", ValidationCodes.InvalidFormat, valueError);
            }
        }
    }

    [GeneratedRegex("^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")]
    private static partial Regex SlugPattern();

    [GeneratedRegex("^[^@\\s\\p{C}]+@[^@\\s\\p{C}]+\\.[^@\\s\\p{C}]+$")]
    private static partial Regex EmailPattern();
}
