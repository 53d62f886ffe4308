using System.Text.Json.Nodes;
using PgReplicateKafka.Configuration;

namespace PgReplicateKafka.Tests.Integration.Streaming;

/// <summary>[format]: the Debezium envelope, tombstones, key changes, headers and transaction records, end to end.</summary>
[Collection(IntegrationCollection.Name)]
public class EventFormatTests(PostgresFixture postgres, KafkaFixture kafka)
{
    private const string Items = """
        CREATE TYPE mood AS ENUM ('calm', 'wild');
        CREATE TABLE items (id int PRIMARY KEY, price numeric(10,2), m mood, at timestamp(3))
        """;

    private static Func<ReplicatorConfig, ReplicatorConfig> Format(FormatConfig format) => c => new ReplicatorConfig
    {
        Postgres = c.Postgres,
        Snapshot = c.Snapshot,
        Kafka = c.Kafka,
        Replication = c.Replication,
        Metrics = c.Metrics,
        Format = format,
    };

    private async Task<IReadOnlyList<ConsumedMessage>> ConsumeAsync(string topic, int expected)
    {
        var consumed = await KafkaTestConsumer.ConsumeAsync(kafka.BootstrapServers, [topic], expected, TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(500));
        Assert.Equal(expected, consumed.Count);
        return consumed;
    }

    private static JsonNode Json(string? text) => JsonNode.Parse(text!)!;

    /// <summary>Messages in the order they were produced: by LSN, and at one LSN as produced (same key, same partition).</summary>
    private static List<ConsumedMessage> InLsnOrder(IEnumerable<ConsumedMessage> messages) =>
        [.. messages.OrderBy(m => (ulong)NpgsqlTypes.NpgsqlLogSequenceNumber.Parse(m.Header("pgrk.lsn")!)).ThenBy(m => m.Partition).ThenBy(m => m.Offset)];

    [Fact]
    public async Task The_debezium_envelope_streams_creates_updates_deletes_with_a_tombstone_and_truncates()
    {
        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka, Items, Format(new FormatConfig { Envelope = EnvelopeFormat.Debezium }));
        await run.StartAsync();
        await run.ExecuteAsync("INSERT INTO items VALUES (1, 12.30, 'wild', '2024-01-02 03:04:05.678')");
        await run.ExecuteAsync("UPDATE items SET price = 0.05 WHERE id = 1");
        await run.ExecuteAsync("DELETE FROM items WHERE id = 1");
        await run.ExecuteAsync("TRUNCATE items");

        var messages = InLsnOrder(await ConsumeAsync(run.Topic("items"), 5));
        Assert.Equal(["c", "u", "d", null, "t"], messages.Select(m => m.Value is null ? null : (string?)Json(m.Value)["op"]));
        var created = Json(messages[0].Value);
        Assert.Equal("""{"id":1}""", messages[0].Key);
        // numeric(10,2) as Connect Decimal: the scale comes from the RELATION message's type modifier (1230 = 0x04CE).
        Assert.Equal("""{"id":1,"price":"BM4=","m":"wild","at":1704164645678}""", created["after"]!.ToJsonString());
        Assert.Null(created["before"]);
        Assert.Equal("postgresql", (string)created["source"]!["connector"]!);
        Assert.Equal(run.TopicPrefix, (string)created["source"]!["name"]!);
        Assert.Equal("\"BQ==\"", Json(messages[1].Value)["after"]!["price"]!.ToJsonString());
        Assert.Equal("""{"id":1,"price":null,"m":null,"at":null}""", Json(messages[2].Value)["before"]!.ToJsonString());
        Assert.Equal("""{"id":1}""", messages[3].Key); // the tombstone
        Assert.Null(messages[4].Key);
    }

    [Fact]
    public async Task With_schemas_key_and_value_carry_connect_schemas_with_scale_and_enum_labels()
    {
        await using var run = await ReplicatorRun.CreateAsync(
            postgres, kafka, Items, Format(new FormatConfig { Envelope = EnvelopeFormat.Debezium, Schemas = true, Tombstones = false }));
        await run.StartAsync();
        await run.ExecuteAsync("INSERT INTO items VALUES (1, 12.30, 'calm', NULL)");

        var message = Assert.Single(await ConsumeAsync(run.Topic("items"), 1));
        var key = Json(message.Key);
        Assert.Equal($"{run.TopicPrefix}.public.items.Key", (string)key["schema"]!["name"]!);
        Assert.Equal("""{"id":1}""", key["payload"]!.ToJsonString());
        var value = Json(message.Value);
        Assert.Equal($"{run.TopicPrefix}.public.items.Envelope", (string)value["schema"]!["name"]!);
        Assert.Equal("c", (string)value["payload"]!["op"]!);
        var after = value["schema"]!["fields"]!.AsArray().Single(f => (string)f!["field"]! == "after")!["fields"]!.AsArray();
        JsonNode Field(string name) => after.Single(f => (string)f!["field"]! == name)!;
        Assert.Equal("2", (string)Field("price")["parameters"]!["scale"]!);
        Assert.Equal("io.debezium.data.Enum", (string)Field("m")["name"]!);
        Assert.Equal("calm,wild", (string)Field("m")["parameters"]!["allowed"]!);
        Assert.Equal("io.debezium.time.Timestamp", (string)Field("at")["name"]!); // timestamp(3): milliseconds
    }

    [Fact]
    public async Task A_key_change_deletes_the_old_key_with_a_tombstone_and_headers_name_each_message()
    {
        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka, "CREATE TABLE users (id int PRIMARY KEY, name text)");
        await run.StartAsync();
        await run.ExecuteAsync("INSERT INTO users VALUES (1, 'ada')");
        await run.ExecuteAsync("UPDATE users SET id = 2 WHERE id = 1");
        await run.ExecuteAsync("DELETE FROM users WHERE id = 2");

        var messages = InLsnOrder(await ConsumeAsync(run.Topic("users"), 6));
        Assert.Equal(
            ["""{"id":1}""", """{"id":1}""", """{"id":1}""", """{"id":2}""", """{"id":2}""", """{"id":2}"""],
            messages.Select(m => m.Key));
        Assert.Equal(["INSERT", "DELETE", null, "INSERT", "DELETE", null], messages.Select(m => m.Value is null ? null : (string?)Json(m.Value)["op"]));
        Assert.Equal(["INSERT", "DELETE", "DELETE", "INSERT", "DELETE", "DELETE"], messages.Select(m => m.Header("pgrk.op")));
        Assert.Equal("""{"id":2}""", messages[1].Header("pgrk.newkey"));
        Assert.Equal("""{"id":1}""", messages[3].Header("pgrk.oldkey"));
        Assert.Equal("""{"id":2,"name":"ada"}""", Json(messages[3].Value)["after"]!.ToJsonString());

        foreach (var message in messages.Where(m => m.Value is not null))
        {
            var source = Json(message.Value)["source"]!;
            Assert.Equal("public.users", message.Header("pgrk.table"));
            Assert.Equal((string)source["lsn"]!, message.Header("pgrk.lsn"));
            Assert.Equal(source["xid"]!.ToJsonString(), message.Header("pgrk.xid"));
            Assert.Equal(source["ts_ms"]!.ToJsonString(), message.Header("pgrk.commit_ts_ms"));
        }
    }

    [Fact]
    public async Task The_transaction_topic_gets_begin_and_end_with_event_counts_per_table()
    {
        var topic = "";
        await using var run = await ReplicatorRun.CreateAsync(
            postgres, kafka, "CREATE TABLE a (id int PRIMARY KEY); CREATE TABLE b (id int PRIMARY KEY)",
            c => Format(new FormatConfig { TransactionTopic = topic = c.Kafka.TopicPrefix + ".transactions" })(c));
        await run.StartAsync();
        await run.ExecuteAsync("INSERT INTO a VALUES (1), (2); INSERT INTO b VALUES (1)");

        var records = await ConsumeAsync(topic, 2);
        var events = await ConsumeAsync(run.Topic("a"), 2);
        var begin = Json(records[0].Value);
        var end = Json(records[1].Value);
        Assert.Equal("BEGIN", (string)begin["status"]!);
        Assert.Equal("END", (string)end["status"]!);
        var id = (string)begin["id"]!;
        Assert.Equal($$"""{"id":"{{id}}"}""", records[0].Key);
        Assert.Equal(id, (string)end["id"]!);
        Assert.Equal(3, (long)end["event_count"]!);
        Assert.Equal("""[{"data_collection":"public.a","event_count":2},{"data_collection":"public.b","event_count":1}]""", end["data_collections"]!.ToJsonString());
        Assert.StartsWith(records[1].Header("pgrk.xid") + ":", id);

        var blocks = events.Select(m => Json(m.Value)["transaction"]!).OrderBy(t => (long)t["total_order"]!).ToList();
        Assert.Equal([id, id], blocks.Select(t => (string)t["id"]!));
        Assert.Equal([1L, 2L], blocks.Select(t => (long)t["data_collection_order"]!));
        Assert.Equal([1L, 2L], blocks.Select(t => (long)t["total_order"]!));
    }
}
