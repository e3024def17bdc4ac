using NxMesh.Api;
var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build();

app.MapDefaultEndpoints();
app.MapOpenApi();

app.Run();

/// <summary>Entry point, public for WebApplicationFactory in the functional tests.</summary>
public partial class Program;
