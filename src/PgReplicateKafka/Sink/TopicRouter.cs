using System.Runtime.CompilerServices;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Events;

namespace PgReplicateKafka.Sink;

/// <summary>A table as its events are written: shaped by its <c>[[tables]]</c> rule, and its topic.</summary>
public sealed record RoutedTable(TableInfo Table, string Topic);

/// <summary>
/// The topic of each table, <c>{topic_prefix}.{schema}.{table}</c> unless a <c>[[tables]]</c> rule sets one,
/// made a name Kafka accepts (see <see cref="TopicNames"/>), together with the table as its rule shapes it.
/// Two tables on one topic are refused unless both were sent there by a literal <c>topic</c>.
/// </summary>
public sealed class TopicRouter(string prefix, TableRules rules)
{
    public TopicRouter(string prefix)
        : this(prefix, new TableRules(new TableRulesConfig(), new MaskingConfig()))
    {
    }

    public TopicRouter(ReplicatorConfig config)
        : this(config.Kafka.TopicPrefix, new TableRules(config.Tables, config.Masking))
    {
    }

    // A RELATION message makes a new TableInfo, so caching by reference never serves a stale name or projection.
    private readonly Dictionary<TableInfo, RoutedTable> _routes = new(ReferenceEqualityComparer.Instance);

    // By Kafka's collision form of each topic: the tables routed there and whether a literal topic sent them.
    private readonly Dictionary<string, (string Table, bool Literal)> _claims = new(StringComparer.Ordinal);

    public string TopicFor(TableInfo table) => Route(table).Topic;

    /// <exception cref="ConfigException">The topic is too long or already another table's, or the rule does not fit the table.</exception>
    // Runs per change: compiled optimized at its first call, not after seconds of tier 0 (see EventPump).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public RoutedTable Route(TableInfo table)
    {
        if (_routes.TryGetValue(table, out var route))
            return route;

        var rule = rules.RuleFor(table.Schema, table.Name);
        var topic = TopicNames.For(prefix, rule, table.Schema, table.Name);
        if (TopicNames.LengthProblem(topic, table.QualifiedName) is { } tooLong)
            throw new ConfigException(tooLong);

        var literal = rule?.TopicIsLiteral == true;
        var collision = TopicNames.CollisionForm(topic);
        if (_claims.TryGetValue(collision, out var claim) && claim.Table != table.QualifiedName && !(literal && claim.Literal))
            throw new ConfigException(TopicNames.CollisionProblem(claim.Table, table.QualifiedName, topic));
        _claims[collision] = (table.QualifiedName, literal);

        route = new RoutedTable(rules.Project(table), topic);
        _routes[table] = route;
        return route;
    }
}
