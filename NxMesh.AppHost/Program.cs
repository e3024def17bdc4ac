using Microsoft.Extensions.Configuration;
using NxMesh.AppHost;

var builder = DistributedApplication.CreateBuilder(args);

var settings = builder.Configuration.GetSection("NxMesh").Get<FleetSettings>() ?? new FleetSettings();
var mode = settings.ResolveMode();

var stores = mode == FleetMode.Local
    ? builder.AddLocalStores(settings)
    : builder.AddContainerStores();

var controlPlane = builder.AddControlPlane(stores, settings, mode);
controlPlane.WithCertificateSettings(builder.Configuration);

builder.AddAgentReplicas(controlPlane, stores, settings, mode);
builder.BoundTelemetryExport(settings);

builder.Build().Run();
