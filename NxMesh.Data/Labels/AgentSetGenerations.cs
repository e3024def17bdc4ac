namespace NxMesh.Data.Labels;

/// <summary>
/// A per-workspace counter that changes whenever the set of its agents or their labels changes (insert, delete,
/// labels or workspace_id updated; truncate), maintained by triggers on <c>agents</c> in the writer's own transaction.
/// A snapshot that sees generation G sees the same agents and labels as every other snapshot that sees G, so a count
/// that depends only on workspace and labels (the agents list's <c>meta.total</c> without a state filter) computed at
/// G stays exact while the generation is G. State, last_seen_at and config columns do not bump it: health and
/// connect churn leave it alone (a connect that reports unchanged labels is filtered by the trigger's WHEN).
/// The table is outside the EF model (raw SQL, like the telemetry tables); workspace deletion cascades to it.
/// </summary>
public static class AgentSetGenerations
{
    public const string Table = "agent_set_generations";

    public const string Create = """
        CREATE TABLE agent_set_generations (
            workspace_id uuid PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
            generation bigint NOT NULL
        );

        -- Workspaces being deleted in the same transaction (the agents' cascade) are skipped: nothing to count there.
        CREATE FUNCTION bump_agent_set_generations(workspace_ids uuid[]) RETURNS void LANGUAGE sql AS $$
            INSERT INTO agent_set_generations AS g (workspace_id, generation)
            SELECT w.id, 1 FROM workspaces w WHERE w.id = ANY (workspace_ids) ORDER BY w.id
            ON CONFLICT (workspace_id) DO UPDATE SET generation = g.generation + 1
        $$;

        CREATE FUNCTION agents_inserted_bump_generation() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM bump_agent_set_generations(ARRAY(SELECT DISTINCT workspace_id FROM new_rows));
            RETURN NULL;
        END $$;

        CREATE FUNCTION agents_deleted_bump_generation() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM bump_agent_set_generations(ARRAY(SELECT DISTINCT workspace_id FROM old_rows));
            RETURN NULL;
        END $$;

        CREATE FUNCTION agents_relabeled_bump_generation() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM bump_agent_set_generations(ARRAY[OLD.workspace_id, NEW.workspace_id]);
            RETURN NULL;
        END $$;

        CREATE FUNCTION agents_truncated_bump_generation() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE agent_set_generations SET generation = generation + 1;
            RETURN NULL;
        END $$;

        CREATE TRIGGER agents_inserted_bump_generation AFTER INSERT ON agents
            REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION agents_inserted_bump_generation();
        CREATE TRIGGER agents_deleted_bump_generation AFTER DELETE ON agents
            REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION agents_deleted_bump_generation();
        -- Row level with WHEN: transition tables allow no column list, and a statement trigger on every UPDATE would
        -- capture the health writer's 10,000-row statements each second.
        CREATE TRIGGER agents_relabeled_bump_generation AFTER UPDATE OF labels, workspace_id ON agents FOR EACH ROW
            WHEN (OLD.labels IS DISTINCT FROM NEW.labels OR OLD.workspace_id IS DISTINCT FROM NEW.workspace_id)
            EXECUTE FUNCTION agents_relabeled_bump_generation();
        CREATE TRIGGER agents_truncated_bump_generation AFTER TRUNCATE ON agents
            FOR EACH STATEMENT EXECUTE FUNCTION agents_truncated_bump_generation();
        """;

    public const string Drop = """
        DROP TRIGGER agents_inserted_bump_generation ON agents;
        DROP TRIGGER agents_deleted_bump_generation ON agents;
        DROP TRIGGER agents_relabeled_bump_generation ON agents;
        DROP TRIGGER agents_truncated_bump_generation ON agents;
        DROP FUNCTION agents_inserted_bump_generation();
        DROP FUNCTION agents_deleted_bump_generation();
        DROP FUNCTION agents_relabeled_bump_generation();
        DROP FUNCTION agents_truncated_bump_generation();
        DROP FUNCTION bump_agent_set_generations(uuid[]);
        DROP TABLE agent_set_generations;
        """;
}
