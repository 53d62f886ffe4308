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
        Snapshot = c.Snapshot,
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
        KafkaFaults.RaiseFatalError(first.NativeHandle, Confluent.Kafka.ErrorCode.OutOfOrderSequenceNumber, "injected by the test");
        await writing;

        var counts = await run.AssertEveryRowDeliveredAsync(kafka.BootstrapServers);
        Assert.NotSame(first, run.CurrentProducer);
        Assert.Contains(log.Lines, l => l.StartsWith("Error: Kafka producer failed", StringComparison.Ordinal) && l.Contains("rebuilding it"));
        if (kafka.Mock is null) // the mock broker shows the abandoned transaction's records too
            Assert.All(counts, c => Assert.Equal(1, c.Value));
        await run.StopAsync();
    }
}
