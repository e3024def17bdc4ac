namespace NxMesh.AgentHub.Tests;

/// <summary>The real agent for tests that run it as a process.</summary>
internal static class AgentBinary
{
    /// <summary>NxMesh.Agent.dll in the agent's own output folder (its appsettings and deps), built through the ProjectReference.</summary>
    public static string Dll()
    {
        var configuration = AppContext.BaseDirectory.Contains("/Release/", StringComparison.Ordinal) ? "Release" : "Debug";
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "NxMesh.sln")))
        {
            directory = directory.Parent;
        }
        var dll = Path.Combine(directory?.FullName ?? throw new InvalidOperationException("NxMesh.sln not found above the test folder."),
            "NxMesh.Agent", "bin", configuration, "net10.0", "NxMesh.Agent.dll");
        return File.Exists(dll) ? dll : throw new FileNotFoundException("Build NxMesh.Agent first.", dll);
    }
}
