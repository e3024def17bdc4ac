using System.Globalization;
using Microsoft.Extensions.DependencyInjection;

namespace NxMesh.AppHost;

public static class TelemetryExport
{
    /// <summary>
    /// Keeps a service's stop inside DCP's grace period. DCP stops an executable with SIGTERM to <c>dotnet run</c>
    /// (which forwards it to the service), waits 6 s, then SIGKILLs <c>dotnet run</c>; the service still holds the
    /// output pipe, so DCP's wait times out too, it kills the tree, reports "timed out waiting for process to stop",
    /// the resource is left <c>Unknown</c> and Aspire's stop/restart command answers "Failed to stop resource".
    /// What held the services that long was the final OTLP flush: Aspire points every project at the dashboard's
    /// OTLP endpoint even when no dashboard runs (tests) and enables in-memory retry, so each telemetry provider's last
    /// export retried until the OTLP default timeout of 10 s. Without a dashboard there is no endpoint any more (the
    /// services then register no exporter); with one, every export is bounded: the dashboard runs on this machine, and
    /// an export slower than the bound is dropped rather than waited for.
    /// </summary>
    public static void BoundTelemetryExport(this IDistributedApplicationBuilder builder, FleetSettings settings)
    {
        var timeout = settings.OtlpExportTimeoutMilliseconds.ToString(CultureInfo.InvariantCulture);
        foreach (var project in builder.Resources.OfType<ProjectResource>().ToList())
        {
            // Runs after Aspire's own OTLP callback (annotations are applied in order).
            builder.CreateResourceBuilder(project).WithEnvironment(context =>
            {
                context.EnvironmentVariables["OTEL_EXPORTER_OTLP_TIMEOUT"] = timeout;
                if (context.ExecutionContext.IsRunMode
                    && context.ExecutionContext.Services.GetRequiredService<DistributedApplicationOptions>().DisableDashboard)
                {
                    context.EnvironmentVariables.Remove("OTEL_EXPORTER_OTLP_ENDPOINT");
                }
            });
        }
    }
}
