using NxMesh.Worker;
using NxMesh.Worker.Scheduling;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();
builder.AddScheduling();

var app = builder.Build();

app.MapDefaultEndpoints();

app.Run();
