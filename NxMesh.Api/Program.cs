using NxMesh.Api;
using NxMesh.Api.Platform;
using NxMesh.Api.Spa;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build();

app.UseApiPipeline();
app.MapDefaultEndpoints();
app.MapNxMeshOpenApi();
app.MapApiV1();
app.MapNxMeshSpa();

app.Run();

/// <summary>Entry point, public for WebApplicationFactory in the functional tests.</summary>
public partial class Program;
