using PgReplicateKafka.Configuration;
using PgReplicateKafka.Embedded;

namespace PgReplicateKafka.Tests.Integration.Delivery;

/// <summary>Exactly-once after in-process failures: a rebuilt producer, and a session that ended while its pump was inside a commit.</summary>
[Collection(IntegrationCollection.Name)]
public class ExactlyOnceRecoveryTests(PostgresFixture postgres, KafkaFixture kafka)
{
    private const string Items = "CREATE TABLE items (id int PRIMARY KEY, v text)";

    private static Func<ReplicatorConfig, ReplicatorConfig> ExactlyOnce(string brokers, int shutdownTimeoutSecs = 8) => c => new ReplicatorConfig
    {
        Postgres = c.Postgres,
        Kafka = new KafkaConfig { Brokers = [brokers], TopicPrefix = c.Kafka.TopicPrefix },
        Replication = new ReplicationConfig
        {
            Delivery = DeliveryGuarantee.ExactlyOnce,
            CheckpointIntervalSecs = 1,
            KeepaliveIntervalSecs = 1,
            PollIntervalMs = 50,
            RetryInitialMs = 100,
            RetryMaxMs = 1000,
            TransactionMaxMs = 300,
            ShutdownTimeoutSecs = shutdownTimeoutSecs,
        },
    };

    [Fact]
    public async Task A_rebuilt_exactly_once_producer_resumes_from_the_checkpoint_and_loses_nothing()
    {
        var log = new CapturingLoggerFactory();
        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka, Items, ExactlyOnce(kafka.BootstrapServers));
        await run.StartAsync(log);
        var writer = new RowWriter(run.Cluster, run.Database, batches: 30, rowsPerBatch: 50, TimeSpan.FromMilliseconds(20));
        var writing = writer.RunAsync();
        await writer.WaitForBatchesAsync(10);

        var first = run.CurrentProducer;
        KafkaFaults.RaiseFatalError(first.Client, Confluent.Kafka.ErrorCode.OutOfOrderSequenceNumber, "injected by the test");
        await writing;

        var counts = await run.AssertEveryRowDeliveredAsync(kafka.BootstrapServers);
        Assert.NotSame(first, run.CurrentProducer);
        Assert.Contains(log.Lines, l => l.StartsWith("Error: Kafka producer failed", StringComparison.Ordinal) && l.Contains("rebuilding it"));
        if (kafka.Mock is null) // the mock broker shows the abandoned transaction's records too
            Assert.All(counts, c => Assert.Equal(1, c.Value));
        await run.StopAsync();
    }

    [Fact]
    public async Task A_session_that_ends_while_its_pump_is_inside_a_commit_continues_with_a_new_producer_not_a_second_pump()
    {
        using var mock = MockKafkaCluster.Start(brokers: 1);
        var log = new CapturingLoggerFactory();
        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka, Items, ExactlyOnce(mock.BootstrapServers, shutdownTimeoutSecs: 1));
        await run.StartAsync(log);
        await run.ExecuteAsync("INSERT INTO items SELECT g, 'a' FROM generate_series(1, 10) g");
        await run.AssertEveryRowDeliveredAsync(mock.BootstrapServers);

        // The next commit takes seconds; meanwhile the session loses its walsender and gives up on the pump.
        mock.SetRtt(1, 4000);
        await run.ExecuteAsync("INSERT INTO items VALUES (11, 'slow commit')");
        await Task.Delay(600);
        await run.ExecuteAsync($"SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = '{run.Config.Postgres.SlotName}'");
        // Rows keep arriving, so the next session produces while the old commit may still be running.
        for (var id = 12; id <= 40; id++)
        {
            await run.ExecuteAsync($"INSERT INTO items VALUES ({id}, 'after')");
            await Task.Delay(200);
            if (id == 30)
                mock.SetRtt(1, 0);
        }

        await run.AssertEveryRowDeliveredAsync(mock.BootstrapServers);
        Assert.Contains(log.Lines, l => l.Contains("event pump is still waiting for Kafka; continuing with a new producer"));
        await run.StopAsync(); // still running: no failure from two pumps on one producer
    }
}
