using NxMesh.Worker;
using NxMesh.Worker.Certificates;
using NxMesh.Worker.Offline;
using NxMesh.Worker.Retention;
using NxMesh.Worker.Scheduling;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();
builder.AddScheduling();
builder.AddOfflineDetection();
builder.AddTelemetryRetention();
builder.AddCertificates();

var app = builder.Build();

app.MapDefaultEndpoints();

app.Run();

/// <summary>Entry point, public for WebApplicationFactory in the functional tests.</summary>
public partial class Program;
