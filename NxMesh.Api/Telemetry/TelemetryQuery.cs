using System.Globalization;
using System.Text.RegularExpressions;
using NxMesh.Api.Platform;
using NxMesh.Nginx.Validation;

namespace NxMesh.Api.Telemetry;

/// <summary>Parsing of the telemetry query parameters; every problem becomes a 422 detail.</summary>
internal static partial class TelemetryQuery
{
    public static readonly TimeSpan DefaultWindow = TimeSpan.FromHours(1);
    public const int MaxSeriesPoints = 1440;

    /// <summary>from/to (RFC 3339); defaults: to = now, from = to − 1 h; from must be before to.</summary>
    public static (DateTimeOffset From, DateTimeOffset To) Window(Validator v, string? from, string? to, DateTimeOffset now)
    {
        var toTime = Time(v, "to", to) ?? now;
        var fromTime = Time(v, "from", from) ?? toTime - DefaultWindow;
        if (v.IsValid && fromTime >= toTime)
        {
            v.Add("from", ValidationCodes.OutOfRange, "from must be before to");
        }
        return (fromTime, toTime);
    }

    /// <summary>A step: seconds ("300"), or a number with s, m, h or d ("5m"); whole minutes, at most 1440 points.</summary>
    public static TimeSpan? Step(Validator v, string? value, DateTimeOffset from, DateTimeOffset to)
    {
        if (value is null)
        {
            return null;
        }
        var match = StepPattern().Match(value);
        if (!match.Success || !long.TryParse(match.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var amount) || amount > 1_000_000)
        {
            v.Add("step", ValidationCodes.InvalidFormat, "step must be a duration such as 60s, 5m, 1h or 1d");
            return null;
        }
        var step = match.Groups[2].Value switch
        {
            "m" => TimeSpan.FromMinutes(amount),
            "h" => TimeSpan.FromHours(amount),
            "d" => TimeSpan.FromDays(amount),
            _ => TimeSpan.FromSeconds(amount),
        };
        if (step < TimeSpan.FromMinutes(1) || step.Ticks % TimeSpan.TicksPerMinute != 0)
        {
            v.Add("step", ValidationCodes.OutOfRange, "step must be a whole number of minutes, at least 1m (rollups are per minute)");
            return null;
        }
        if ((to - from).Ticks / step.Ticks > MaxSeriesPoints)
        {
            v.Add("step", ValidationCodes.OutOfRange, $"step yields more than {MaxSeriesPoints} points for this window");
            return null;
        }
        return step;
    }

    public static DateTimeOffset? Time(Validator v, string field, string? value)
    {
        if (value is null)
        {
            return null;
        }
        if (!DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed) || !value.Contains('T', StringComparison.Ordinal))
        {
            v.Add(field, ValidationCodes.InvalidFormat, $"{field} must be an RFC 3339 timestamp such as 2026-03-01T00:00:00Z");
            return null;
        }
        return parsed.ToUniversalTime();
    }

    public static DateTimeOffset FloorMinute(DateTimeOffset t) => new(t.UtcTicks - t.UtcTicks % TimeSpan.TicksPerMinute, TimeSpan.Zero);

    public static DateTimeOffset CeilingMinute(DateTimeOffset t) =>
        t.UtcTicks % TimeSpan.TicksPerMinute == 0 ? t.ToUniversalTime() : FloorMinute(t).AddMinutes(1);

    [GeneratedRegex("^([0-9]{1,9})(s|m|h|d)?$")]
    private static partial Regex StepPattern();
}
