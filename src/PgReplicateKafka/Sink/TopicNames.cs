using System.Text;
using PgReplicateKafka.Configuration;

namespace PgReplicateKafka.Sink;

/// <summary>
/// Topic names as Kafka accepts them, the way Debezium makes them: every character other than ASCII letters,
/// digits, '.', '_' and '-' becomes '_' (per UTF-16 unit, as Debezium's Java does). Longer than 249
/// characters is refused rather than cut, since cut names of similar tables would silently share a topic.
/// </summary>
public static class TopicNames
{
    public const int MaxLength = 249;

    /// <summary>The topic of table <paramref name="schema"/>.<paramref name="table"/> under <paramref name="rule"/> (null: no rule).</summary>
    public static string For(string prefix, TableRule? rule, string schema, string table)
    {
        var template = rule?.Topic ?? "{prefix}.{schema}.{table}";
        if (rule?.TopicIsLiteral == true)
            return template;
        return Sanitize(template.Replace("{prefix}", prefix, StringComparison.Ordinal)
            .Replace("{schema}", schema, StringComparison.Ordinal)
            .Replace("{table}", table, StringComparison.Ordinal));
    }

    /// <summary>The default topic before sanitizing, to tell which names changed.</summary>
    public static string Unsanitized(string prefix, string schema, string table) => prefix + "." + schema + "." + table;

    public static string Sanitize(string topic)
    {
        var clean = true;
        foreach (var c in topic)
            clean &= TableRulesConfig.IsTopicCharacter(c);
        if (clean)
            return topic;

        var name = new StringBuilder(topic.Length);
        foreach (var c in topic)
            name.Append(TableRulesConfig.IsTopicCharacter(c) ? c : '_');
        return name.ToString();
    }

    /// <summary>
    /// Kafka refuses a topic whose name equals an existing one's once '.' is read as '_' (their metric
    /// names would clash), so names are compared in that form.
    /// </summary>
    public static string CollisionForm(string topic) => topic.Replace('.', '_');

    public static string? LengthProblem(string topic, string table) => topic.Length <= MaxLength
        ? null
        : $"the topic of table {table} would be {topic.Length} characters long, but Kafka allows at most {MaxLength}: " +
          "give the table a shorter topic with a [[tables]] rule (topic = \"...\"), or shorten [kafka] topic_prefix";

    public static string CollisionProblem(string first, string second, string topic) =>
        $"tables {first} and {second} would both write to topic {topic} (Kafka treats '.' and '_' alike in topic names): " +
        "give one of them its own topic with a [[tables]] rule (topic = \"...\"), or send both there on purpose with a rule whose topic is a literal name";
}
