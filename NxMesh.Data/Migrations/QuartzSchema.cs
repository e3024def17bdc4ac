namespace NxMesh.Data.Migrations;

/// <summary>The Quartz job-store DDL, embedded so the migration is self-contained.</summary>
internal static class QuartzSchema
{
    public static string Create { get; } = Read("QuartzSchema.sql");

    public const string Drop = """
        DROP TABLE IF EXISTS qrtz_fired_triggers, qrtz_paused_trigger_grps, qrtz_paused_job_grps, qrtz_scheduler_state, qrtz_locks,
            qrtz_execution_history, qrtz_job_status, qrtz_misfire_history,
            qrtz_simprop_triggers, qrtz_simple_triggers, qrtz_cron_triggers, qrtz_blob_triggers, qrtz_triggers,
            qrtz_job_details, qrtz_calendars;
        """;

    private static string Read(string name)
    {
        using var stream = typeof(QuartzSchema).Assembly.GetManifestResourceStream($"NxMesh.Data.Migrations.{name}")
            ?? throw new InvalidOperationException($"Embedded resource {name} is missing.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
