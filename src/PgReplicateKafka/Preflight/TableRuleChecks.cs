using Npgsql;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Events;
using PgReplicateKafka.Sink;
using PgReplicateKafka.Source;

namespace PgReplicateKafka.Preflight;

/// <summary>
/// The <c>[[tables]]</c> rules and the topics, against the tables the publication streams (or, before it
/// exists, the ones <c>[postgres] tables</c> will publish): a rule naming a missing table or column, a
/// topic over Kafka's length limit, or two tables on one topic by accident fail as configuration (exit 2).
/// </summary>
public static class TableRuleChecks
{
    private const CheckArea Area = CheckArea.Configuration;

    public static async Task<IReadOnlyList<CheckResult>> RunAsync(NpgsqlConnection connection, ReplicatorConfig config, CancellationToken ct)
    {
        var postgres = config.Postgres;
        var exists = await PostgresCatalog.PublicationExistsAsync(connection, postgres.Publication, ct);
        if (!exists && !postgres.CreatePublication)
            return []; // the publication check fails already, saying what to do
        var tables = await PostgresCatalog.TableColumnsAsync(connection, postgres.Publication, exists ? null : postgres.Tables, ct);
        return Judge(config, tables);
    }

    /// <summary>The results for <paramref name="tables"/>: rules first, then topics.</summary>
    public static IReadOnlyList<CheckResult> Judge(ReplicatorConfig config, IReadOnlyList<CatalogTable> tables)
    {
        var results = new List<CheckResult>();
        var rules = config.Tables;
        if (rules.Rules.Count > 0)
            results.AddRange(Rules(rules, tables));
        results.Add(Topics(config, tables));
        return results;
    }

    private static IEnumerable<CheckResult> Rules(TableRulesConfig rules, IReadOnlyList<CatalogTable> tables)
    {
        var problems = new List<string>();
        foreach (var rule in rules.Rules)
        {
            var matched = tables.Where(t => rule.Match.Matches(t.Schema, t.Name)).ToList();
            if (matched.Count == 0 && rule.Match.IsExact)
            {
                problems.Add($"{rule.Describe()} names table {rule.Match.Text}, which is not among the streamed tables " +
                    $"({Names(tables)}): fix the name, or publish the table");
            }
            else if (matched.Count == 0)
            {
                yield return CheckResult.Warn(Area, $"table rule #{rule.Entry}", $"{rule.Describe()} matches none of the streamed tables ({Names(tables)}) yet");
            }
        }

        foreach (var table in tables)
        {
            if (rules.RuleFor(table.Schema, table.Name) is { } rule && TableRules.Problem(rule, table.QualifiedName, table.Columns) is { } problem)
                problems.Add(problem);
        }

        yield return problems.Count == 0
            ? CheckResult.Pass(Area, "table rules", $"{rules.Rules.Count} rule(s) fit the streamed tables")
            : CheckResult.Fail(Area, "table rules", string.Join("; ", problems));
    }

    private static CheckResult Topics(ReplicatorConfig config, IReadOnlyList<CatalogTable> tables)
    {
        var problems = new List<string>();
        var claims = new Dictionary<string, (string Table, bool Literal)>(StringComparer.Ordinal);
        var renamed = new List<string>();
        foreach (var table in tables)
        {
            var rule = config.Tables.RuleFor(table.Schema, table.Name);
            var topic = TopicNames.For(config.Kafka.TopicPrefix, rule, table.Schema, table.Name);
            if (TopicNames.LengthProblem(topic, table.QualifiedName) is { } tooLong)
                problems.Add(tooLong);

            var literal = rule?.TopicIsLiteral == true;
            var collision = TopicNames.CollisionForm(topic);
            if (claims.TryGetValue(collision, out var claim) && !(literal && claim.Literal))
                problems.Add(TopicNames.CollisionProblem(claim.Table, table.QualifiedName, topic));
            claims[collision] = (table.QualifiedName, literal);
            if (rule?.Topic is null && topic != TopicNames.Unsanitized(config.Kafka.TopicPrefix, table.Schema, table.Name))
                renamed.Add($"{table.QualifiedName} → {topic}");
        }

        if (problems.Count > 0)
            return CheckResult.Fail(Area, "topics", string.Join("; ", problems));
        var detail = renamed.Count == 0 ? "" : $"; characters Kafka does not allow became '_': {string.Join(", ", renamed)}";
        return CheckResult.Pass(Area, "topics", $"{tables.Count} table(s) to {claims.Count} topic(s){detail}");
    }

    private static string Names(IReadOnlyList<CatalogTable> tables) =>
        tables.Count == 0 ? "none" : string.Join(", ", tables.Select(t => t.QualifiedName));
}
