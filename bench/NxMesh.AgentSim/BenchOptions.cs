using System.Globalization;

namespace NxMesh.AgentSim;

/// <summary>Command-line options of <c>NxMesh.AgentSim run</c> (<c>./nxmesh.sh bench -- --help</c>).</summary>
internal sealed class BenchOptions
{
    public string Repo { get; set; } = Directory.GetCurrentDirectory();
    public string Output { get; set; } = "";
    public List<int> Capacity { get; set; } = [1000, 5000, 10000];
    public List<int> Propagation { get; set; } = [1000, 10000];
    public HashSet<string> Scenarios { get; set; } = ["capacity", "propagation", "reconnect", "apply", "rest"];
    public HashSet<string> Targets { get; set; } = ["agenthub", "floor"];
    public double HealthIntervalSeconds { get; set; } = 5;
    public double ApplyMilliseconds { get; set; }
    public double WindowSeconds { get; set; } = 30;
    public int BatchSize { get; set; } = 250;
    public List<int> ApplyBlocks { get; set; } = [10, 100, 1000];
    public int ApplyRepeats { get; set; } = 5;
    public double RestSeconds { get; set; } = 20;
    public int RestConnections { get; set; } = 10;

    public const string Help = """
        NxMesh.AgentSim run [options]     the benchmark (./nxmesh.sh bench passes its arguments here)
        NxMesh.AgentSim floor --grpc-port P --control-port Q   the floor server alone

          --agents 1000,5000,10000     capacity steps (agents connected at each step)
          --propagation 1000,10000     steps at which a change is propagated (added to the steps)
          --scenarios capacity,propagation,reconnect,apply,rest
          --targets agenthub,floor     measure AgentHub, the floor server, or both
          --health-interval 5          seconds between health reports of each agent
          --apply-ms 0                 simulated apply time before SUCCESS
          --window 30                  seconds each capacity step is measured over
          --batch 250                  connections opened per batch
          --apply-blocks 10,100,1000   server blocks of the real-nginx apply scenario
          --apply-repeats 5            applies measured per size
          --rest-seconds 20            duration of the autocannon run
          --rest-connections 10        autocannon connections
          --out DIR                    report folder (default <repo>/bench/results)
          --repo DIR                   repository root (default: current directory)
        """;

    public static BenchOptions Parse(IReadOnlyList<string> args)
    {
        var options = new BenchOptions();
        for (var i = 0; i < args.Count; i++)
        {
            var value = i + 1 < args.Count ? args[i + 1] : throw new ArgumentException($"{args[i]} needs a value.");
            switch (args[i])
            {
                case "--repo": options.Repo = Path.GetFullPath(value); break;
                case "--out": options.Output = Path.GetFullPath(value); break;
                case "--agents": options.Capacity = Ints(value); break;
                case "--propagation": options.Propagation = Ints(value); break;
                case "--scenarios": options.Scenarios = [.. Words(value)]; break;
                case "--targets": options.Targets = [.. Words(value)]; break;
                case "--health-interval": options.HealthIntervalSeconds = double.Parse(value, CultureInfo.InvariantCulture); break;
                case "--apply-ms": options.ApplyMilliseconds = double.Parse(value, CultureInfo.InvariantCulture); break;
                case "--window": options.WindowSeconds = double.Parse(value, CultureInfo.InvariantCulture); break;
                case "--batch": options.BatchSize = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--apply-blocks": options.ApplyBlocks = Ints(value); break;
                case "--apply-repeats": options.ApplyRepeats = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--rest-seconds": options.RestSeconds = double.Parse(value, CultureInfo.InvariantCulture); break;
                case "--rest-connections": options.RestConnections = int.Parse(value, CultureInfo.InvariantCulture); break;
                default: throw new ArgumentException($"Unknown option {args[i]}.\n{Help}");
            }
            i++;
        }
        if (options.Output.Length == 0)
        {
            options.Output = Path.Combine(options.Repo, "bench", "results");
        }
        if (!options.Scenarios.Contains("propagation"))
        {
            options.Propagation = [];
        }
        return options;
    }

    /// <summary>Every agent count the run connects, ascending: capacity steps plus propagation steps.</summary>
    public IReadOnlyList<int> Steps =>
        [.. (Scenarios.Contains("capacity") ? Capacity : []).Concat(Propagation)
            .Concat(Scenarios.Contains("reconnect") || Scenarios.Contains("rest") ? [Capacity.Concat(Propagation).DefaultIfEmpty(0).Max()] : [])
            .Where(n => n > 0).Distinct().Order()];

    public int MaxAgents => Steps.DefaultIfEmpty(0).Max();

    private static List<int> Ints(string value) =>
        [.. Words(value).Select(w => int.Parse(w.Replace("_", "", StringComparison.Ordinal), CultureInfo.InvariantCulture))];

    private static IEnumerable<string> Words(string value) =>
        value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
