using System.Globalization;
using NxMesh.AgentSim;
using NxMesh.AgentSim.Floor;

// NxMesh.AgentSim run …   the whole benchmark (./nxmesh.sh bench)
// NxMesh.AgentSim floor … the floor server alone (started by the benchmark as its own process)
return args switch
{
    ["floor", "--grpc-port", var grpc, "--control-port", var control] =>
        await FloorServer.RunAsync(int.Parse(grpc, CultureInfo.InvariantCulture), int.Parse(control, CultureInfo.InvariantCulture)),
    ["run", "--help"] or ["--help"] or [] => Usage(),
    ["run", .. var rest] => await BenchRunner.RunAsync(BenchOptions.Parse(rest), string.Join(' ', args)),
    _ => Usage(),
};

static int Usage()
{
    Console.WriteLine(BenchOptions.Help);
    return 2;
}
