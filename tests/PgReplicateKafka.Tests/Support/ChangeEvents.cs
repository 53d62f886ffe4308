using System.Text.Json.Nodes;

namespace PgReplicateKafka.Tests.Support;

/// <summary>A consumed message with its JSON parsed, for assertions.</summary>
public sealed record ChangeMessage(string Topic, int Partition, JsonNode? Key, JsonObject Value)
{
    public string Op => (string)Value["op"]!;
    public JsonNode? Before => Value["before"];
    public JsonNode? After => Value["after"];
    public JsonObject Source => Value["source"]!.AsObject();
    public ulong Lsn => (ulong)NpgsqlTypes.NpgsqlLogSequenceNumber.Parse((string)Source["lsn"]!);

    public static ChangeMessage From(ConsumedMessage message) => new(
        message.Topic,
        message.Partition,
        message.Key is null ? null : JsonNode.Parse(message.Key),
        JsonNode.Parse(message.Value ?? throw new InvalidOperationException("null message value"))!.AsObject());

    /// <summary>
    /// Consumes <paramref name="expected"/> messages (tombstones included) from the topics and returns the change events
    /// (tombstones left out) in WAL order; at one LSN (a key change's delete and create) the delete comes first.
    /// </summary>
    public static async Task<List<ChangeMessage>> ConsumeAsync(KafkaFixture kafka, IEnumerable<string> topics, int expected, TimeSpan? quiet = null)
    {
        var consumed = await KafkaTestConsumer.ConsumeAsync(kafka.BootstrapServers, topics, expected, TimeSpan.FromSeconds(60), quiet ?? TimeSpan.FromMilliseconds(500));
        return [.. consumed.Where(m => m.Value is not null).Select(From).OrderBy(m => m.Lsn).ThenBy(m => m.Op is "DELETE" or "d" ? 0 : 1)];
    }

    public static string Json(JsonNode? node) => node?.ToJsonString() ?? "null";
}
