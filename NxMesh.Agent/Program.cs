using NxMesh.Agent;
using NxMesh.Agent.Cli;

var commandLine = AgentCommandLine.Parse(args, Environment.GetEnvironmentVariables());
if (commandLine.Help)
{
    Console.Out.Write(AgentCommandLine.HelpText());
    return 0;
}
if (commandLine.Errors.Count > 0)
{
    Console.Error.WriteLine(string.Join(Environment.NewLine, commandLine.Errors) + Environment.NewLine + "See --help.");
    return 2;
}

var builder = AgentHost.CreateBuilder(commandLine);
await builder.Build().RunAsync();
return Environment.ExitCode;
