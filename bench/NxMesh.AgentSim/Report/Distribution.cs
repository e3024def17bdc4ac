namespace NxMesh.AgentSim.Report;

/// <summary>Summary of a set of timings (milliseconds). Percentiles are nearest-rank: p(q) is the smallest sample
/// with at least q % of the samples at or below it, so p100 = max and every reported value was actually measured.</summary>
public sealed record Distribution(int Count, double Min, double P50, double P90, double P99, double Max, double Mean)
{
    public static Distribution Empty { get; } = new(0, 0, 0, 0, 0, 0, 0);

    public static Distribution Of(IReadOnlyCollection<double> samples)
    {
        if (samples.Count == 0)
        {
            return Empty;
        }
        var sorted = samples.ToArray();
        Array.Sort(sorted);
        return new Distribution(sorted.Length, sorted[0], Percentile(sorted, 50), Percentile(sorted, 90), Percentile(sorted, 99),
            sorted[^1], Math.Round(sorted.Average(), 3));
    }

    /// <summary>Nearest-rank percentile of ascending <paramref name="sorted"/>; <paramref name="percent"/> in (0, 100].</summary>
    public static double Percentile(IReadOnlyList<double> sorted, double percent)
    {
        ArgumentOutOfRangeException.ThrowIfZero(sorted.Count);
        if (percent is <= 0 or > 100)
        {
            throw new ArgumentOutOfRangeException(nameof(percent), percent, "A percentile is in (0, 100].");
        }
        var rank = (int)Math.Ceiling(percent / 100 * sorted.Count);
        return sorted[Math.Clamp(rank, 1, sorted.Count) - 1];
    }
}

/// <summary>A measured figure against its target: the ratio says by how much it met or missed it.</summary>
public sealed record TargetCheck(string Name, double Measured, string Comparison, double Target, string Unit)
{
    /// <summary>True when the target holds (≤ for limits, ≥ for minimums).</summary>
    public bool Met => Comparison == ">=" ? Measured >= Target : Measured <= Target;

    /// <summary>Measured / target (≤ 1 meets a limit; ≥ 1 meets a minimum).</summary>
    public double Ratio => Target == 0 ? double.PositiveInfinity : Math.Round(Measured / Target, 3);

    /// <summary>"met", or how far off: "+23 % over" for limits, "−40 % under" for minimums.</summary>
    public string Verdict => Met ? "met" : Comparison == ">="
        ? $"missed: {Math.Round((1 - (Measured / Target)) * 100, 1)} % under"
        : $"missed: {Math.Round(((Measured / Target) - 1) * 100, 1)} % over";
}

/// <summary>a / b rounded, or null when b is 0 (no floor figure).</summary>
public static class Ratio
{
    public static double? Of(double a, double b) => b == 0 ? null : Math.Round(a / b, 3);
}
