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
        string Parameter(string value)
        {
            parameters.Add(value);
            return "{" + (parameters.Count - 1).ToString(CultureInfo.InvariantCulture) + "}";
        }
        for (var i = 0; i < selector.Requirements.Count; i++)
        {
            var requirement = selector.Requirements[i];
            if (i > 0)
            {
                sql.Append(" AND ");
            }
            var negated = requirement.Operator is LabelOperator.DoesNotExist or LabelOperator.NotEquals or LabelOperator.NotIn;
            sql.Append(negated ? "NOT (" : "(");
            if (requirement.Operator is LabelOperator.Exists or LabelOperator.DoesNotExist)
            {
                sql.Append(labels).Append(" ? ").Append(Parameter(requirement.Key));
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
                    sql.Append(labels).Append(" @> ").Append(Parameter(pair)).Append("::jsonb");
                }
            }
            sql.Append(')');
        }
        return agents.FromSqlRaw(sql.ToString(), [.. parameters]);
    }

    private static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
}
