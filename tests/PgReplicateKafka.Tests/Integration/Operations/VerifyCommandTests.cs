using System.Text;
using Confluent.Kafka;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Operations;

namespace PgReplicateKafka.Tests.Integration.Operations;

/// <summary>
/// verify against a real PostgreSQL and the test broker: a topic written by a real replicator agrees
/// with its table; topics written by hand with one record left out, altered or added do not, and the
/// report names the keys.
/// </summary>
[Collection(IntegrationCollection.Name)]
public class VerifyCommandTests(PostgresFixture postgres, KafkaFixture kafka)
{
    [Fact]
    public async Task A_topic_written_by_the_replicator_agrees_after_inserts_updates_deletes_truncate_and_unchanged_toast()
    {
        // EXTERNAL storage keeps the long value out of line uncompressed, so an update of another
        // column leaves it out of the event (unchanged TOAST): verify must not count that as a difference.
        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka, """
            CREATE TABLE items (id int PRIMARY KEY, name text, amount numeric(10,2), doc jsonb, big text);
            ALTER TABLE items ALTER COLUMN big SET STORAGE EXTERNAL
            """);
        await run.StartAsync();
        foreach (var sql in new[]
        {
            "INSERT INTO items SELECT g, 'old ' || g, g FROM generate_series(1001, 1020) g",
            "TRUNCATE items",
            "INSERT INTO items SELECT g, 'n' || g, g * 1.5, jsonb_build_object('g', g, 'tags', jsonb_build_array('a', g)), NULL FROM generate_series(1, 40) g",
            "UPDATE items SET big = repeat('x', 10000) WHERE id <= 3",
            "UPDATE items SET name = 'changed' WHERE id <= 5",
            "UPDATE items SET id = 100 WHERE id = 6",
            "DELETE FROM items WHERE id BETWEEN 30 AND 35",
        })
        {
            await run.ExecuteAsync(sql);
        }

        await WaitUntilConfirmedAsync(run);
        await run.StopAsync();

        var report = await VerifyCommand.RunAsync(run.Config, "public.items", CancellationToken.None);

        Assert.True(report.Agrees, Text(report));
        Assert.Equal(34, report.Rows);
        Assert.Equal(34, report.TopicKeys);
        Assert.Equal(0, report.Missing.Count + report.Extra.Count + report.Different.Count);
        Assert.Contains("OK: topic", Text(report));
    }

    /// <summary>
    /// The Debezium envelope, with and without Kafka Connect schemas and with its value options, and with a
    /// [[tables]] rule (topic, excluded and masked columns): verify compares each row as that configuration
    /// writes it (READ events of the snapshot, streamed changes, unchanged TOAST placeholders), and names a
    /// row changed behind the replicator's back by its key.
    /// </summary>
    [Theory]
    [InlineData(false, "precise", "adaptive", false)]
    [InlineData(true, "string", "connect", false)]
    [InlineData(true, "double", "adaptive", true)]
    public async Task A_debezium_topic_agrees_with_its_table_and_a_row_changed_since_is_reported_by_key(bool schemas, string decimals, string time, bool rules)
    {
        var format = ConfigLoader.Parse($$"""
            [postgres]
            database = "d"
            username = "u"
            publication = "p"

            [kafka]
            brokers = ["localhost:9092"]

            [format]
            envelope = "debezium"
            schemas = {{(schemas ? "true" : "false")}}
            decimal_handling = "{{decimals}}"
            time_precision = "{{time}}"

            [masking]
            salt = "verify-test-salt-0123456789"
            {{(rules ? """

                [[tables]]
                match = "public.items"
                topic = "{prefix}.renamed_items"
                exclude_columns = ["note"]
                mask_columns = ["name"]
                """ : "")}}
            """, "verify.toml", new Dictionary<string, string>());
        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka, """
            CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
            CREATE TABLE items (id int PRIMARY KEY, name text, note text, amount numeric(10,2), price numeric, at timestamptz, day date,
                t time, doc jsonb, raw bytea, m mood, tags text[], big text);
            ALTER TABLE items ALTER COLUMN big SET STORAGE EXTERNAL;
            INSERT INTO items SELECT g, 'n' || g, 'note', g * 1.5, g / 7.0, timestamptz '2026-01-02 03:04:05.123456+00' + g * interval '1 day',
                date '2026-01-01' + g, time '12:34:56.789', jsonb_build_object('g', g), 'Þadbeef', 'ok', ARRAY['a', g::text],
                CASE WHEN g <= 3 THEN repeat('x', 10000) END
            FROM generate_series(1, 30) g
            """, c => new ReplicatorConfig
        {
            Postgres = c.Postgres,
            Kafka = c.Kafka,
            Replication = c.Replication,
            Snapshot = new SnapshotConfig { Mode = SnapshotMode.Initial },
            Format = format.Format,
            Masking = format.Masking,
            Tables = format.Tables,
        });
        var logs = new CapturingLoggerFactory();
        await run.StartAsync(logs);
        await Snapshot.SnapshotPipelineTests.WaitForLogAsync(logs, "Snapshot of public.items done", TimeSpan.FromSeconds(30));
        foreach (var sql in new[]
        {
            "INSERT INTO items (id, name, amount, price, at, day, m, tags) SELECT g, 'new', 0.5, 1e-3, now(), current_date, 'happy', '{}' FROM generate_series(31, 40) g",
            "UPDATE items SET name = 'changed', m = 'sad' WHERE id <= 5", // ids 1-3 leave big out: unchanged TOAST
            "UPDATE items SET id = 100 WHERE id = 6",
            "DELETE FROM items WHERE id BETWEEN 30 AND 35",
        })
        {
            await run.ExecuteAsync(sql);
        }

        await WaitUntilConfirmedAsync(run);
        await run.StopAsync();

        var report = await VerifyCommand.RunAsync(run.Config, "public.items", CancellationToken.None);
        Assert.True(report.Agrees, Text(report));
        Assert.Equal((34L, 34L), (report.Rows, report.TopicKeys));
        Assert.Equal(rules ? run.TopicPrefix + ".renamed_items" : run.Topic("items"), report.Topic);

        await run.ExecuteAsync("UPDATE items SET amount = 1 WHERE id = 7");
        report = await VerifyCommand.RunAsync(run.Config, "public.items", CancellationToken.None);
        Assert.Equal(["""{"id":7}"""], report.Different.Examples);
        Assert.Equal(0, report.Missing.Count + report.Extra.Count + report.Unreadable.Count);
        Assert.Equal(1, report.ExitCode);
    }

    [Fact]
    public async Task A_row_the_topic_lacks_is_reported_missing_by_key()
    {
        var (config, topic) = await TableAsync();
        await ProduceAsync(topic, Insert(1, "a"), Insert(2, "b"));

        var report = await VerifyCommand.RunAsync(config, "items", CancellationToken.None);

        Assert.False(report.Agrees);
        Assert.Equal(1, report.Missing.Count);
        Assert.Equal(["""{"id":3}"""], report.Missing.Examples);
        Assert.Equal(0, report.Extra.Count + report.Different.Count);
        Assert.Equal(1, report.ExitCode);
    }

    [Fact]
    public async Task A_key_whose_last_value_differs_is_reported_different_by_key()
    {
        var (config, topic) = await TableAsync();
        // Key 2 was right once; its last record is not.
        await ProduceAsync(topic, Insert(1, "a"), Insert(2, "b"), Insert(3, "c"), Update(2, "B"));

        var report = await VerifyCommand.RunAsync(config, "public.items", CancellationToken.None);

        Assert.Equal(["""{"id":2}"""], report.Different.Examples);
        Assert.Equal(0, report.Missing.Count + report.Extra.Count);
        Assert.Equal(1, report.ExitCode);
    }

    [Fact]
    public async Task A_key_the_table_lacks_is_reported_extra_while_deletes_and_tombstones_remove_keys()
    {
        var (config, topic) = await TableAsync();
        await ProduceAsync(topic,
            Insert(1, "a"), Insert(2, "b"), Insert(3, "c"), Insert(4, "d"), Insert(5, "e"), Insert(6, "f"),
            ("""{"id":5}""", """{"op":"DELETE","before":{"id":5},"after":null,"source":{"lsn":"0/20"}}"""),
            ("""{"id":6}""", null));

        var report = await VerifyCommand.RunAsync(config, "public.items", CancellationToken.None);

        Assert.Equal(["""{"id":4}"""], report.Extra.Examples);
        Assert.Equal(0, report.Missing.Count + report.Different.Count);
    }

    [Fact]
    public async Task The_cli_exits_0_on_agreement_with_debezium_op_names_and_1_naming_the_keys_on_disagreement()
    {
        var (config, topic) = await TableAsync();
        // Debezium's op names, bare and wrapped in a schema/payload pair; a truncate clears what came before it.
        await ProduceAsync(topic,
            ("""{"id":9}""", """{"op":"c","after":{"id":9,"name":"gone"},"source":{"lsn":10}}"""),
            (null, """{"op":"t","before":null,"after":null,"source":{"lsn":11}}"""),
            ("""{"id":1}""", """{"schema":{"type":"struct"},"payload":{"op":"r","after":{"id":1,"name":"a"},"source":{"lsn":12}}}"""),
            ("""{"id":2}""", """{"op":"c","after":{"id":2,"name":"b"},"source":{"lsn":13}}"""),
            ("""{"id":3}""", """{"op":"u","before":null,"after":{"id":3,"name":"c"},"source":{"lsn":14}}"""));
        var path = await ConfigFileAsync(config);

        var (agree, agreeOutput) = await CliProcess.RunAsync(["verify", "--config", path, "--table", "public.items"], TimeSpan.FromSeconds(60));
        Assert.True(agree == 0, $"exit {agree}:\n{agreeOutput}");
        Assert.Contains("missing    0", agreeOutput);

        await ProduceAsync(topic, Update(1, "A"), ("""{"id":3}""", null), Insert(7, "g"));
        var (disagree, output) = await CliProcess.RunAsync(["verify", "--config", path, "--table", "public.items"], TimeSpan.FromSeconds(60));

        Assert.True(disagree == 1, $"exit {disagree}:\n{output}");
        Assert.Contains("missing    1 (in the table, not in the topic)\n  {\"id\":3}", output);
        Assert.Contains("extra      1 (in the topic, not in the table)\n  {\"id\":7}", output);
        Assert.Contains("different  1", output);
        Assert.Contains("  {\"id\":1}", output);
        Assert.Contains("DIFFERENT: topic", output);
    }

    [Fact]
    public async Task The_cli_exits_2_for_a_table_the_publication_does_not_publish()
    {
        var (config, _) = await TableAsync();

        var (code, output) = await CliProcess.RunAsync(["verify", "--config", await ConfigFileAsync(config), "--table", "public.nothere"], TimeSpan.FromSeconds(60));

        Assert.True(code == 2, $"exit {code}:\n{output}");
        Assert.Contains("table public.nothere is not published by publication \"pub\" (it publishes public.items)", output);
    }

    private static (string? Key, string? Value) Insert(int id, string name) =>
        ($$"""{"id":{{id}}}""", $$$"""{"schema":"public","table":"items","op":"INSERT","before":null,"after":{"id":{{{id}}},"name":"{{{name}}}"},"source":{"lsn":"2/{{{id:X}}}"}}""");

    private static (string? Key, string? Value) Update(int id, string name) =>
        ($$"""{"id":{{id}}}""", $$$"""{"op":"UPDATE","after":{"id":{{{id}}},"name":"{{{name}}}"},"source":{"lsn":"3/{{{id:X}}}"}}""");

    /// <summary>A table items holding ids 1, 2 and 3 ("a", "b", "c"), published, and the topic verify reads for it.</summary>
    private async Task<(ReplicatorConfig Config, string Topic)> TableAsync()
    {
        var database = await postgres.CreateDatabaseAsync();
        await postgres.Cluster.ExecuteAsync(
            "CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, 'c'); CREATE PUBLICATION pub FOR TABLE items",
            database);
        var config = ReplicatorRun.DefaultConfig(postgres.Cluster, database, kafka.BootstrapServers, kafka.NewTopicPrefix());
        return (config, $"{config.Kafka.TopicPrefix}.public.items");
    }

    private async Task ProduceAsync(string topic, params (string? Key, string? Value)[] records)
    {
        using var producer = new ProducerBuilder<byte[]?, byte[]?>(new ProducerConfig { BootstrapServers = kafka.BootstrapServers, EnableIdempotence = true }).Build();
        foreach (var (key, value) in records)
        {
            await producer.ProduceAsync(topic, new Message<byte[]?, byte[]?>
            {
                Key = key is null ? null : Encoding.UTF8.GetBytes(key),
                Value = value is null ? null : Encoding.UTF8.GetBytes(value),
            });
        }
    }

    private async Task<string> ConfigFileAsync(ReplicatorConfig config)
    {
        var path = Path.Combine(Path.GetTempPath(), $"pgrk-{Guid.NewGuid():N}.toml");
        await File.WriteAllTextAsync(path, CliRuns.Toml(config, postgres.Cluster.Username, postgres.Cluster.Password));
        return path;
    }

    private static async Task WaitUntilConfirmedAsync(ReplicatorRun run)
    {
        var target = await run.CurrentWalLsnAsync();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (await run.ConfirmedFlushLsnAsync() < target)
        {
            Assert.True(DateTime.UtcNow < deadline, "the replicator did not confirm the workload within 30 s");
            await Task.Delay(100);
        }
    }

    private static string Text(VerifyReport report)
    {
        using var writer = new StringWriter();
        report.WriteTo(writer);
        return writer.ToString();
    }
}
