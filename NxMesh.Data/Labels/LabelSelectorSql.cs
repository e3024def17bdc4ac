using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata;
using NxMesh.Data.Entities;

namespace NxMesh.Data.Labels;

/// <summary>
/// A <see cref="LabelSelector"/> as the SQL WHERE of the agents query, so filtering, counting and paging happen in
/// Postgres instead of loading a workspace's agents. Each requirement uses only jsonb <c>@&gt;</c> and <c>?</c>, which
/// the GIN index <c>ix_agents_labels</c> (jsonb_ops) serves; the rows are exactly those <see cref="LabelSelector.Matches"/>
/// accepts (<c>!=</c> and <c>notin</c> also match agents without the key).
/// </summary>
public static class LabelSelectorSql
{
    /// <summary>The agents whose labels match <paramref name="selector"/>; compose further LINQ (workspace, order, paging) on it.</summary>
    public static IQueryable<Agent> WhereLabels(this DbSet<Agent> agents, LabelSelector selector)
    {
        if (selector.Requirements.Count == 0)
        {
            return agents;
        }
        var entity = agents.EntityType;
        var table = StoreObjectIdentifier.Table(entity.GetTableName()!, entity.GetSchema());
        var labels = Quote(entity.FindProperty(nameof(Agent.Labels))!.GetColumnName(table)!);
        var sql = new StringBuilder("SELECT * FROM ");
        if (table.Schema is { } schema)
        {
            sql.Append(Quote(schema)).Append('.');
        }
        sql.Append(Quote(table.Name)).Append(" WHERE ");
        // Values travel as parameters ({n} placeholders of FromSqlRaw), never as SQL text.
        var parameters = new List<object>();
        sql.Append(Condition(selector, labels, value =>
        {
            parameters.Add(value);
            return "{" + (parameters.Count - 1).ToString(CultureInfo.InvariantCulture) + "}";
        }));
        return agents.FromSqlRaw(sql.ToString(), [.. parameters]);
    }

    /// <summary>
    /// The selector as a SQL condition over the jsonb column <paramref name="labels"/> (already quoted);
    /// <paramref name="parameter"/> receives each value (a string) and returns its placeholder. Empty selector: <c>TRUE</c>.
    /// The <c>=</c> requirements (and <c>in</c> with one value) of distinct keys become one containment
    /// (<c>labels @&gt; '{"bench":"sim","shard":"0"}'</c>): one GIN lookup and one recheck per row instead of one each —
    /// the same rows, since containment of every pair is containment of their union.
    /// </summary>
    public static string Condition(LabelSelector selector, string labels, Func<string, string> parameter)
    {
        if (selector.Requirements.Count == 0)
        {
            return "TRUE";
        }
        var sql = new StringBuilder();
        var merged = new Dictionary<string, string>(StringComparer.Ordinal);
        var rest = new List<LabelRequirement>();
        foreach (var requirement in selector.Requirements)
        {
            if (requirement.Operator is LabelOperator.Equals or LabelOperator.In && requirement.Values.Count == 1 && merged.TryAdd(requirement.Key, requirement.Values[0]))
            {
                continue;
            }
            rest.Add(requirement);
        }
        if (merged.Count > 0)
        {
            sql.Append('(').Append(labels).Append(" @> ").Append(parameter(JsonSerializer.Serialize(merged))).Append("::jsonb)");
        }
        foreach (var requirement in rest)
        {
            if (sql.Length > 0)
            {
                sql.Append(" AND ");
            }
            var negated = requirement.Operator is LabelOperator.DoesNotExist or LabelOperator.NotEquals or LabelOperator.NotIn;
            sql.Append(negated ? "NOT (" : "(");
            if (requirement.Operator is LabelOperator.Exists or LabelOperator.DoesNotExist)
            {
                sql.Append(labels).Append(" ? ").Append(parameter(requirement.Key));
            }
            else
            {
                // k in (a,b) is "labels contain {k:a} or {k:b}"; its negation also holds when k is absent.
                for (var v = 0; v < requirement.Values.Count; v++)
                {
                    if (v > 0)
                    {
                        sql.Append(" OR ");
                    }
                    var pair = JsonSerializer.Serialize(new Dictionary<string, string> { [requirement.Key] = requirement.Values[v] });
                    sql.Append(labels).Append(" @> ").Append(parameter(pair)).Append("::jsonb");
                }
            }
            sql.Append(')');
        }
        return sql.ToString();
    }

    private static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
}
