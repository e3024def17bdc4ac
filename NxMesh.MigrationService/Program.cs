using NxMesh.Data;
using NxMesh.MigrationService;
using NxMesh.MigrationService.Seeding;

var builder = Host.CreateApplicationBuilder(args);

builder.AddServiceDefaults();
builder.AddNpgsqlDbContext<NxMeshDbContext>(ConnectionNames.Database);
builder.Services.Configure<BootstrapOptions>(builder.Configuration.GetSection(BootstrapOptions.SectionName));
builder.Services.AddSingleton<BootstrapSeeder>();
builder.Services.AddHostedService<MigrationWorker>();

builder.Build().Run();
