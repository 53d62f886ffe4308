using System.Text.Json;
using Confluent.Kafka;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Tests.Integration.Snapshot;

namespace PgReplicateKafka.Tests.Integration.Streaming;

/// <summary>
/// Tables shaped as other teams' schemas are: quoted, mixed-case and unicode names, reserved words, 300 columns, columns
/// dropped and added while streaming, generated columns, every replica identity, no primary key, a composite key of
/// text, uuid, timestamptz and numeric, partitioned tables. Each is snapshotted, then changed: every event arrives on its
/// table's topic, every row is read once, and every event is exactly as expected.
/// </summary>
[Collection(IntegrationCollection.Name)]
public class TableVarietyTests(PostgresFixture postgres, KafkaFixture kafka)
{
    private static readonly string WideColumns = string.Join(", ", Enumerable.Range(1, 300).Select(i => $"c{i} int"));

    // The composite key's values, every combination a row: collation-sensitive text, uuids, infinite timestamps, NaN.
    private static readonly (string Sql, string Json)[] Texts = [("'a'", "\"a\""), ("'B'", "\"B\""), ("'é'", "\"é\""), ("' '", "\" \""), ("''", "\"\"")];
    private static readonly (string Sql, string Json)[] Uuids =
        [("'00000000-0000-0000-0000-000000000001'::uuid", "\"00000000-0000-0000-0000-000000000001\""), ("'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid", "\"ffffffff-ffff-ffff-ffff-ffffffffffff\"")];
    private static readonly (string Sql, string Json)[] Times =
        [("'-infinity'::timestamptz", "\"-infinity\""), ("'2024-01-01 05:30:00.5+05:30'::timestamptz", "\"2024-01-01T00:00:00.5Z\""), ("'infinity'", "\"infinity\"")];
    private static readonly (string Sql, string Json)[] Numerics = [("1.50", "\"1.50\""), ("'NaN'::numeric", "\"NaN\"")];

    private static readonly string Setup = $"""
        CREATE SCHEMA "Weird Schema ü";
        CREATE TABLE "Weird Schema ü"."Mixed Case Table" ("Id" int PRIMARY KEY, "Col With Space" text, "select" int, "ÜmlautCol" text, "quote""col" text);
        INSERT INTO "Weird Schema ü"."Mixed Case Table" VALUES (1, 'sp ace', 2, 'ü', 'q"');
        CREATE SCHEMA "user";
        CREATE TABLE "user"."order" ("from" int, "group" text, "table" text, PRIMARY KEY ("from", "group"));
        INSERT INTO "user"."order" VALUES (1, 'g', 't');
        CREATE TABLE wide (id int PRIMARY KEY, {WideColumns});
        INSERT INTO wide (id, c1, c150, c300) VALUES (1, 1, 150, 300);
        CREATE TABLE altered (id int PRIMARY KEY, a text, b text, c int);
        INSERT INTO altered VALUES (1, 'a1', 'b1', 1);
        CREATE TABLE generated (id int PRIMARY KEY, a int, doubled int GENERATED ALWAYS AS (a * 2) STORED, tail text);
        INSERT INTO generated (id, a, tail) VALUES (1, 21, 't1');
        CREATE TABLE full_identity (id int PRIMARY KEY, v text);
        ALTER TABLE full_identity REPLICA IDENTITY FULL;
        INSERT INTO full_identity VALUES (1, 'v1');
        CREATE TABLE no_identity (id int PRIMARY KEY, v text);
        ALTER TABLE no_identity REPLICA IDENTITY NOTHING;
        INSERT INTO no_identity VALUES (1, 'v1');
        CREATE TABLE index_identity (id int NOT NULL, code text NOT NULL, v text);
        CREATE UNIQUE INDEX index_identity_code ON index_identity (code, id);
        ALTER TABLE index_identity REPLICA IDENTITY USING INDEX index_identity_code;
        INSERT INTO index_identity VALUES (1, 'c1', 'v1');
        CREATE TABLE unique_only (a int NOT NULL, b text);
        CREATE UNIQUE INDEX ON unique_only (a);
        INSERT INTO unique_only VALUES (1, 'b1');
        CREATE TABLE unique_full (a int NOT NULL, b text);
        CREATE UNIQUE INDEX ON unique_full (a);
        ALTER TABLE unique_full REPLICA IDENTITY FULL;
        INSERT INTO unique_full VALUES (1, 'b1'), (2, 'b2');
        CREATE TABLE composite_key (t text, u uuid, ts timestamptz, n numeric, v int NOT NULL DEFAULT 0, PRIMARY KEY (t, u, ts, n));
        INSERT INTO composite_key (t, u, ts, n)
        SELECT * FROM (VALUES {Values(Texts)}) t, (VALUES {Values(Uuids)}) u, (VALUES {Values(Times)}) ts, (VALUES {Values(Numerics)}) n;
        ANALYZE composite_key;
        CREATE TABLE meas (id int, at date, v text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
        CREATE TABLE meas_2023 PARTITION OF meas FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
        CREATE TABLE meas_2024 PARTITION OF meas FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
        INSERT INTO meas VALUES (1, '2023-05-01', 'a'), (2, '2024-05-01', 'b')
        """;

    private const string Changes = """
        INSERT INTO "Weird Schema ü"."Mixed Case Table" VALUES (2, 'x', 3, 'ö', 'q');
        UPDATE "Weird Schema ü"."Mixed Case Table" SET "select" = 4 WHERE "Id" = 1;
        INSERT INTO "user"."order" VALUES (2, 'h', 'u');
        DELETE FROM "user"."order" WHERE "from" = 1;
        UPDATE wide SET c299 = 299 WHERE id = 1;
        ALTER TABLE altered DROP COLUMN b;
        INSERT INTO altered VALUES (2, 'a2', 2);
        ALTER TABLE altered ADD COLUMN e jsonb;
        UPDATE altered SET c = 3 WHERE id = 1;
        INSERT INTO altered VALUES (3, 'a3', 3, '{"k": 1}');
        INSERT INTO generated (id, a, tail) VALUES (2, 5, 't2');
        UPDATE generated SET a = 6 WHERE id = 1;
        UPDATE full_identity SET v = 'v2' WHERE id = 1;
        DELETE FROM full_identity WHERE id = 1;
        INSERT INTO no_identity VALUES (2, 'v2');
        UPDATE index_identity SET v = 'v2' WHERE id = 1;
        UPDATE index_identity SET code = 'c2' WHERE id = 1;
        DELETE FROM index_identity WHERE id = 1;
        INSERT INTO unique_only VALUES (2, 'b2');
        UPDATE unique_full SET b = 'b3' WHERE a = 1;
        DELETE FROM unique_full WHERE a = 2;
        UPDATE composite_key SET v = 1 WHERE t = 'é' AND u = '00000000-0000-0000-0000-000000000001' AND ts = 'infinity' AND n = 'NaN';
        DELETE FROM composite_key WHERE t = '' AND u = 'ffffffff-ffff-ffff-ffff-ffffffffffff' AND ts = '-infinity' AND n = 1.50;
        INSERT INTO meas VALUES (3, '2023-06-01', 'c');
        UPDATE meas SET at = '2024-06-01' WHERE id = 1;
        DELETE FROM meas WHERE id = 2
        """;

    private static string Values((string Sql, string Json)[] values) => string.Join(", ", values.Select(v => $"({v.Sql})"));

    // Small chunks and two readers: several pages per table, and the composite key's 60 rows split into key ranges.
    private static Func<ReplicatorConfig, ReplicatorConfig> Snapshot() => c => new ReplicatorConfig
    {
        Postgres = c.Postgres,
        Kafka = c.Kafka,
        Replication = c.Replication,
        Snapshot = new SnapshotConfig { Mode = SnapshotMode.Initial, ChunkSize = 7, Parallelism = 2 },
    };

    [Fact]
    public async Task Every_table_is_snapshotted_once_and_streamed_to_its_own_topic_with_exact_events()
    {
        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka, Setup, Snapshot());
        var logs = new CapturingLoggerFactory();
        await run.StartAsync(logs);
        foreach (var table in new[]
                 {
                     "Weird Schema ü.Mixed Case Table", "user.order", "public.wide", "public.altered", "public.generated", "public.full_identity",
                     "public.index_identity", "public.unique_full", "public.composite_key", "public.meas_2023", "public.meas_2024",
                 })
            await SnapshotPipelineTests.WaitForLogAsync(logs, $"Snapshot of {table} done", TimeSpan.FromSeconds(60));
        Assert.Contains("Information: Snapshot of public.composite_key starts: about 60 rows in 2 range(s)", logs.Lines);
        await run.ExecuteAsync(Changes);
        await SnapshotPipelineTests.WaitDeliveredAsync(run);

        // Tables PostgreSQL cannot key (no replica identity) are not snapshotted; the log says why and what to do.
        Assert.Contains(logs.Lines, l => l.StartsWith("Error: Snapshot refused: table public.no_identity has no replica identity", StringComparison.Ordinal));
        Assert.Contains(logs.Lines, l => l.StartsWith("Error: Snapshot refused: table public.unique_only has no replica identity", StringComparison.Ordinal)
            && l.Contains("REPLICA IDENTITY USING INDEX unique_only_a_idx", StringComparison.Ordinal));

        var topics = await ConsumeAllAsync(
            run,
            ["Weird_Schema__.Mixed_Case_Table", "public.altered", "public.composite_key", "public.full_identity", "public.generated", "public.index_identity",
             "public.meas_2023", "public.meas_2024", "public.no_identity", "public.unique_full", "public.unique_only", "public.wide", "user.order"],
            107);

        AssertTopic(topics, "Weird_Schema__.Mixed_Case_Table",
            ["""READ {Id=1} null {Id=1, Col With Space="sp ace", select=2, ÜmlautCol="ü", quote"col="q\""}"""],
            ["""INSERT {Id=2} null {Id=2, Col With Space="x", select=3, ÜmlautCol="ö", quote"col="q"}""",
             """UPDATE {Id=1} null {Id=1, Col With Space="sp ace", select=4, ÜmlautCol="ü", quote"col="q\""}"""]);
        AssertTopic(topics, "user.order",
            ["""READ {from=1, group="g"} null {from=1, group="g", table="t"}"""],
            ["""INSERT {from=2, group="h"} null {from=2, group="h", table="u"}""", """DELETE {from=1, group="g"} {from=1, group="g"} null""", """tombstone {from=1, group="g"}"""]);
        AssertTopic(topics, "public.wide",
            [$"READ {{id=1}} null {Wide((1, 1), (150, 150), (300, 300))}"],
            [$"UPDATE {{id=1}} null {Wide((1, 1), (150, 150), (299, 299), (300, 300))}"]);
        // A dropped column leaves the events at once; an added one joins them (null in rows written before it).
        AssertTopic(topics, "public.altered",
            ["""READ {id=1} null {id=1, a="a1", b="b1", c=1}"""],
            ["""INSERT {id=2} null {id=2, a="a2", c=2}""", """UPDATE {id=1} null {id=1, a="a1", c=3, e=null}""", """INSERT {id=3} null {id=3, a="a3", c=3, e={"k": 1}}"""]);
        // pgoutput does not send generated columns (before PostgreSQL 18), and the snapshot leaves them out alike.
        AssertTopic(topics, "public.generated",
            ["""READ {id=1} null {id=1, a=21, tail="t1"}"""],
            ["""INSERT {id=2} null {id=2, a=5, tail="t2"}""", """UPDATE {id=1} null {id=1, a=6, tail="t1"}"""]);
        AssertTopic(topics, "public.full_identity",
            ["""READ {id=1} null {id=1, v="v1"}"""],
            ["""UPDATE {id=1} {id=1, v="v1"} {id=1, v="v2"}""", """DELETE {id=1} {id=1, v="v2"} null""", "tombstone {id=1}"]);
        AssertTopic(topics, "public.no_identity", [], ["""INSERT null null {id=2, v="v2"}"""]);
        // Keyed by the identity index, in column order; a change of it is a delete and an insert (same LSN, listed sorted).
        AssertTopic(topics, "public.index_identity",
            ["""READ {id=1, code="c1"} null {id=1, code="c1", v="v1"}"""],
            ["""UPDATE {id=1, code="c1"} null {id=1, code="c1", v="v2"}""",
             """DELETE {id=1, code="c1"} {id=1, code="c1"} null""", """INSERT {id=1, code="c2"} null {id=1, code="c2", v="v2"}""", """tombstone {id=1, code="c1"}""",
             """DELETE {id=1, code="c2"} {id=1, code="c2"} null""", """tombstone {id=1, code="c2"}"""]);
        AssertTopic(topics, "public.unique_only", [], ["""INSERT null null {a=2, b="b2"}"""]);
        // REPLICA IDENTITY FULL without a primary key: keyed by every column, so an update moves the row to another key.
        AssertTopic(topics, "public.unique_full",
            ["""READ {a=1, b="b1"} null {a=1, b="b1"}""", """READ {a=2, b="b2"} null {a=2, b="b2"}"""],
            ["""DELETE {a=1, b="b1"} {a=1, b="b1"} null""", """INSERT {a=1, b="b3"} null {a=1, b="b3"}""", """tombstone {a=1, b="b1"}""",
             """DELETE {a=2, b="b2"} {a=2, b="b2"} null""", """tombstone {a=2, b="b2"}"""]);

        string CompositeKey(int t, int u, int ts, int n) => $"{{t={Texts[t].Json}, u={Uuids[u].Json}, ts={Times[ts].Json}, n={Numerics[n].Json}}}";
        string CompositeRow(int t, int u, int ts, int n, int v) => $"{{t={Texts[t].Json}, u={Uuids[u].Json}, ts={Times[ts].Json}, n={Numerics[n].Json}, v={v}}}";
        var reads = from t in Enumerable.Range(0, Texts.Length)
                    from u in Enumerable.Range(0, Uuids.Length)
                    from ts in Enumerable.Range(0, Times.Length)
                    from n in Enumerable.Range(0, Numerics.Length)
                    select $"READ {CompositeKey(t, u, ts, n)} null {CompositeRow(t, u, ts, n, 0)}";
        AssertTopic(topics, "public.composite_key", [.. reads],
            [$"UPDATE {CompositeKey(2, 0, 2, 1)} null {CompositeRow(2, 0, 2, 1, 1)}",
             $"DELETE {CompositeKey(4, 1, 0, 0)} {CompositeKey(4, 1, 0, 0)} null", $"tombstone {CompositeKey(4, 1, 0, 0)}"]);

        // Without publish_via_partition_root each partition is a table of its own: moving a row is a delete and an insert.
        AssertTopic(topics, "public.meas_2023",
            ["""READ {id=1, at="2023-05-01"} null {id=1, at="2023-05-01", v="a"}"""],
            ["""INSERT {id=3, at="2023-06-01"} null {id=3, at="2023-06-01", v="c"}""", """DELETE {id=1, at="2023-05-01"} {id=1, at="2023-05-01"} null""", """tombstone {id=1, at="2023-05-01"}"""]);
        AssertTopic(topics, "public.meas_2024",
            ["""READ {id=2, at="2024-05-01"} null {id=2, at="2024-05-01", v="b"}"""],
            ["""INSERT {id=1, at="2024-06-01"} null {id=1, at="2024-06-01", v="a"}""", """DELETE {id=2, at="2024-05-01"} {id=2, at="2024-05-01"} null""", """tombstone {id=2, at="2024-05-01"}"""]);
    }

    /// <summary>
    /// publish_via_partition_root with the root and one of its partitions named: every event goes to the root's topic,
    /// a partition created while streaming included, and the snapshot reads each row once, through the root.
    /// </summary>
    [Fact]
    public async Task Partitions_published_via_their_root_are_snapshotted_once_and_streamed_to_the_root_topic()
    {
        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka, """
            CREATE TABLE meas (id int, at date, v text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
            CREATE TABLE meas_2023 PARTITION OF meas FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
            CREATE TABLE meas_2024 PARTITION OF meas FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
            INSERT INTO meas VALUES (1, '2023-05-01', 'a'), (2, '2024-05-01', 'b')
            """, Snapshot(), publish: "TABLE meas, meas_2023 WITH (publish_via_partition_root = true)");
        var logs = new CapturingLoggerFactory();
        await run.StartAsync(logs);
        await SnapshotPipelineTests.WaitForLogAsync(logs, "Snapshot of public.meas done", TimeSpan.FromSeconds(30));
        await run.ExecuteAsync("""
            CREATE TABLE meas_2025 PARTITION OF meas FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
            INSERT INTO meas VALUES (3, '2025-02-01', 'c');
            UPDATE meas SET at = '2024-06-01' WHERE id = 1;
            UPDATE meas SET v = 'b2' WHERE id = 2;
            TRUNCATE meas
            """);
        await SnapshotPipelineTests.WaitDeliveredAsync(run);

        var topics = await ConsumeAllAsync(run, ["public.meas"], 8);
        Assert.DoesNotContain(logs.Lines, l => l.Contains("Snapshot of public.meas_", StringComparison.Ordinal));
        AssertTopic(topics, "public.meas",
            ["""READ {id=1, at="2023-05-01"} null {id=1, at="2023-05-01", v="a"}""", """READ {id=2, at="2024-05-01"} null {id=2, at="2024-05-01", v="b"}"""],
            ["""INSERT {id=3, at="2025-02-01"} null {id=3, at="2025-02-01", v="c"}""",
             """DELETE {id=1, at="2023-05-01"} {id=1, at="2023-05-01"} null""", """tombstone {id=1, at="2023-05-01"}""",
             """INSERT {id=1, at="2024-06-01"} null {id=1, at="2024-06-01", v="a"}""",
             """UPDATE {id=2, at="2024-05-01"} null {id=2, at="2024-05-01", v="b2"}""",
             "TRUNCATE null null null"]);
    }

    private static string Wide(params (int Column, int Value)[] values)
    {
        var set = values.ToDictionary(v => v.Column, v => v.Value);
        return "{id=1, " + string.Join(", ", Enumerable.Range(1, 300).Select(i => $"c{i}={(set.TryGetValue(i, out var v) ? v : "null")}")) + "}";
    }

    /// <summary>
    /// Every event message, by topic without the prefix. The run's topics must be exactly <paramref name="topics"/> (and the
    /// snapshot progress topic): an event on a wrong topic would create another.
    /// </summary>
    private async Task<Dictionary<string, List<ConsumedMessage>>> ConsumeAllAsync(ReplicatorRun run, string[] topics, int expected)
    {
        var prefix = run.TopicPrefix + ".";
        using (var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = kafka.BootstrapServers }).Build())
        {
            var existing = admin.GetMetadata(TimeSpan.FromSeconds(10)).Topics.Select(t => t.Topic).Where(t => t.StartsWith(prefix, StringComparison.Ordinal));
            Assert.Equal([.. topics.Append("pg-replicate-kafka.snapshots").Order(StringComparer.Ordinal)], existing.Select(t => t[prefix.Length..]).Order(StringComparer.Ordinal));
        }

        var consumed = await KafkaTestConsumer.ConsumeAsync(
            kafka.BootstrapServers, topics.Select(t => prefix + t), expected, TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(500));
        Assert.Equal(expected, consumed.Count);
        return consumed.GroupBy(m => m.Topic[prefix.Length..]).ToDictionary(g => g.Key, g => g.ToList());
    }

    /// <summary>
    /// The topic holds exactly <paramref name="reads"/> (in any order) and then <paramref name="changes"/> in LSN order
    /// (messages of one LSN sorted, as partitions do not order them).
    /// </summary>
    private static void AssertTopic(Dictionary<string, List<ConsumedMessage>> topics, string topic, string[] reads, string[] changes)
    {
        var messages = topics[topic];
        var read = messages.Where(m => m.Header("pgrk.op") == "READ").Select(Line).Order(StringComparer.Ordinal);
        Assert.Equal(reads.Order(StringComparer.Ordinal), read);
        var streamed = messages.Where(m => m.Header("pgrk.op") != "READ")
            .Select(m => (Lsn: (ulong)NpgsqlTypes.NpgsqlLogSequenceNumber.Parse(m.Header("pgrk.lsn")!), Line: Line(m)))
            .OrderBy(m => m.Lsn).ThenBy(m => m.Line, StringComparer.Ordinal).Select(m => m.Line);
        Assert.Equal(changes, streamed);
    }

    // "op key before after", rows as {name=value}: names as PostgreSQL spells them, values as the raw JSON of the event.
    private static string Line(ConsumedMessage message)
    {
        var key = message.Key is null ? "null" : Row(JsonDocument.Parse(message.Key).RootElement);
        if (message.Value is null)
            return "tombstone " + key;
        var value = JsonDocument.Parse(message.Value).RootElement;
        return $"{value.GetProperty("op").GetString()} {key} {Row(value.GetProperty("before"))} {Row(value.GetProperty("after"))}";
    }

    private static string Row(JsonElement row) =>
        row.ValueKind == JsonValueKind.Null ? "null" : "{" + string.Join(", ", row.EnumerateObject().Select(p => $"{p.Name}={p.Value.GetRawText()}")) + "}";
}
