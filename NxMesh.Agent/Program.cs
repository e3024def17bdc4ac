using NxMesh.Agent;
using NxMesh.Agent.Nginx;

var builder = Host.CreateApplicationBuilder(args);

builder.AddServiceDefaults();
builder.AddAgentOptions();
builder.AddNginxSupervision();

builder.Build().Run();
