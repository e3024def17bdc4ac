using NxMesh.Worker;
using NxMesh.Worker.Offline;
using NxMesh.Worker.Retention;
using NxMesh.Worker.Scheduling;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();
builder.AddScheduling();
builder.AddOfflineDetection();
builder.AddTelemetryRetention();

var app = builder.Build();

app.MapDefaultEndpoints();

app.Run();

/// <summary>Entry point, public for WebApplicationFactory in the functional tests.</summary>
public partial class Program;
