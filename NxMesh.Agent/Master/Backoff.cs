namespace NxMesh.Agent.Master;

/// <summary>Jittered exponential backoff: 1 s, 2 s, 4 s … capped at 30 s, each ±20 % (never above the cap).</summary>
public sealed class Backoff(TimeSpan initial, TimeSpan cap, Random random)
{
    public static Backoff Default(Random? random = null) => new(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30), random ?? Random.Shared);

    public int Attempt { get; private set; }

    public TimeSpan Next()
    {
        var exponent = Math.Min(Attempt, 30);
        Attempt++;
        var nominal = Math.Min(cap.TotalSeconds, initial.TotalSeconds * Math.Pow(2, exponent));
        var jittered = nominal * (0.8 + (0.4 * random.NextDouble()));
        return TimeSpan.FromSeconds(Math.Min(cap.TotalSeconds, jittered));
    }

    public void Reset() => Attempt = 0;
}
