using PgReplicateKafka.Events;

namespace PgReplicateKafka.Sink;

/// <summary>The topic of each table: <c>{topic_prefix}.{schema}.{table}</c>.</summary>
public sealed class TopicRouter(string prefix)
{
    // A RELATION message makes a new TableInfo, so caching by reference never serves a stale name.
    private readonly Dictionary<TableInfo, string> _topics = new(ReferenceEqualityComparer.Instance);

    public string TopicFor(TableInfo table)
    {
        if (!_topics.TryGetValue(table, out var topic))
        {
            topic = $"{prefix}.{table.Schema}.{table.Name}";
            _topics[table] = topic;
        }

        return topic;
    }
}
