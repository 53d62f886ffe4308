using Microsoft.Extensions.Logging.Abstractions;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Embedded;
using PgReplicateKafka.Pipeline;

namespace PgReplicateKafka.Tests.Integration.Delivery;

/// <summary>Exactly-once checkpoints belong to one cluster and slot: another history with the same names must not skip to them.</summary>
[Collection(IntegrationCollection.Name)]
public class CheckpointHistoryTests(PostgresFixture postgres, KafkaFixture kafka)
{
    private const string Items = "CREATE TABLE items (id int PRIMARY KEY, v text)";

    private static ReplicatorConfig ExactlyOnce(ReplicatorConfig c) => new()
    {
        Postgres = c.Postgres,
        Snapshot = c.Snapshot,
        Kafka = c.Kafka,
        Replication = new ReplicationConfig
        {
            Delivery = DeliveryGuarantee.ExactlyOnce,
            CheckpointIntervalSecs = 1,
            KeepaliveIntervalSecs = 1,
            PollIntervalMs = 50,
            RetryInitialMs = 100,
            RetryMaxMs = 1000,
        },
    };

    private static async Task<HashSet<int>> IdsAsync(string bootstrap, string topic, int expected)
    {
        var consumed = await KafkaTestConsumer.ConsumeAsync(bootstrap, [topic], expected, TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(2));
        return [.. consumed.Select(m => (int)System.Text.Json.Nodes.JsonNode.Parse(m.Value!)!["after"]!["id"]!)];
    }

    [Fact]
    public async Task A_rebuilt_cluster_with_the_same_database_slot_and_publication_streams_every_new_row_despite_the_old_checkpoint()
    {
        // The original cluster writes checkpoints far into its WAL...
        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka, Items, ExactlyOnce);
        await run.StartAsync();
        for (var i = 1; i <= 3; i++)
            await run.ExecuteAsync($"INSERT INTO items VALUES ({i}, 'old'); SELECT pg_switch_wal()");
        await run.ExecuteAsync("INSERT INTO items SELECT g, 'old' FROM generate_series(4, 10) g");
        Assert.Equal(10, (await IdsAsync(kafka.BootstrapServers, run.Topic("items"), 10)).Count);
        await run.StopAsync();
        var oldCheckpoint = await run.ConfirmedFlushLsnAsync();

        // ...then it is rebuilt: same names, a slot made by hand (not by the replicator), LSNs from the start.
        await using var rebuilt = await TempPostgresCluster.StartAsync();
        await rebuilt.CreateDatabaseAsync(run.Database);
        await rebuilt.ExecuteAsync($"{Items}; CREATE PUBLICATION pub FOR ALL TABLES", run.Database);
        await rebuilt.ExecuteAsync($"SELECT pg_create_logical_replication_slot('{run.Config.Postgres.SlotName}', 'pgoutput')", run.Database);
        await rebuilt.ExecuteAsync("INSERT INTO items SELECT g, 'new' FROM generate_series(1001, 2000) g", run.Database);
        var rebuiltWal = (ulong)NpgsqlTypes.NpgsqlLogSequenceNumber.Parse((await rebuilt.ScalarAsync<string>("SELECT pg_current_wal_lsn()::text", run.Database))!);
        Assert.True(rebuiltWal < oldCheckpoint, "the test needs the old checkpoint beyond the rebuilt cluster's WAL");

        var config = ExactlyOnce(ReplicatorRun.DefaultConfig(rebuilt, run.Database, kafka.BootstrapServers, run.TopicPrefix));
        var log = new CapturingLoggerFactory();
        using var stop = new CancellationTokenSource();
        var replicating = Task.Run(() => new Replicator(config, log).RunAsync(stop.Token));
        try
        {
            var ids = await IdsAsync(kafka.BootstrapServers, run.Topic("items"), 1010);
            Assert.Equal(1000, ids.Count(id => id > 1000));
        }
        finally
        {
            await stop.CancelAsync();
            await replicating;
        }

        Assert.DoesNotContain(log.Lines, l => l.Contains("Kafka holds transactions up to"));
    }
}
