using Confluent.Kafka;
using PgReplicateKafka.Configuration;

namespace PgReplicateKafka.Sink;

/// <summary>The librdkafka settings of every client we build.</summary>
public static class KafkaSettings
{
    /// <summary>
    /// The transactional.id used when none is configured: stable for one cluster, database and slot, so
    /// a rebuilt cluster with the same names (another system id) never fences the original's instance.
    /// </summary>
    public static string DefaultTransactionalId(ReplicatorConfig config, string systemId) =>
        $"pg-replicate-kafka.{systemId}.{config.Postgres.Database}.{config.Postgres.SlotName}";

    /// <summary>What every client needs: the brokers and [kafka.properties] (security settings among them).</summary>
    public static ClientConfig Client(KafkaConfig config)
    {
        var settings = new ClientConfig { BootstrapServers = string.Join(',', config.Brokers) };
        // Confluent.Kafka's admin client and consumer poll their queues in slices of this length, and
        // Dispose waits for the slice to end: the default 100 ms per client was a fifth of the start-up.
        settings.Set("dotnet.cancellation.delay.max.ms", "10");
        foreach (var (key, value) in config.Properties)
            settings.Set(key, value);
        return settings;
    }

    /// <summary>
    /// A consumer that reads a topic of ours to its end once (checkpoints, snapshot progress, verify):
    /// read_committed, no group offsets, end-of-partition events. librdkafka reports the end only in
    /// the fetch after the one that reached it, and the broker holds that fetch open for
    /// fetch.wait.max.ms (500 ms by default) waiting for new records: every start-up that found a
    /// checkpoint waited that long.
    /// </summary>
    public static ConsumerConfig ReadToEnd(KafkaConfig config, string groupId) => new(Client(config))
    {
        GroupId = groupId,
        IsolationLevel = IsolationLevel.ReadCommitted,
        EnableAutoCommit = false,
        EnablePartitionEof = true,
        FetchWaitMaxMs = 10,
    };

    /// <summary>The librdkafka settings: the required ones, ours, then [kafka.properties] on top.</summary>
    /// <param name="systemId">The PostgreSQL cluster's system id, for the default transactional.id (exactly-once only).</param>
    public static ProducerConfig Producer(ReplicatorConfig replicator, string? systemId = null)
    {
        var config = replicator.Kafka;
        var replication = replicator.Replication;
        var settings = new ProducerConfig
        {
            BootstrapServers = string.Join(',', config.Brokers),
            ClientId = "pg-replicate-kafka",
            EnableIdempotence = true,
            Acks = Acks.All,
            // The partitioner Java clients use, so a key lands where a Java producer would put it.
            Partitioner = Partitioner.Murmur2Random,
            CompressionType = config.Compression switch
            {
                KafkaCompression.Gzip => CompressionType.Gzip,
                KafkaCompression.Snappy => CompressionType.Snappy,
                KafkaCompression.Lz4 => CompressionType.Lz4,
                KafkaCompression.Zstd => CompressionType.Zstd,
                _ => CompressionType.None,
            },
            LingerMs = 5,
            // Never give up on a message: while brokers are away the pipeline pauses (backpressure)
            // and resumes when they return, instead of failing events after a timeout.
            MessageTimeoutMs = 0,
            // Find returning brokers within seconds rather than librdkafka's default 10 s backoff.
            ReconnectBackoffMaxMs = 2000,
            // librdkafka's own queue is part of the bounded in-flight memory.
            QueueBufferingMaxKbytes = (int)Math.Max(1024, replication.MaxInFlightBytes / 1024),
        };
        if (replication.Delivery == DeliveryGuarantee.ExactlyOnce)
        {
            settings.TransactionalId = config.TransactionalId ?? DefaultTransactionalId(
                replicator, systemId ?? throw new ArgumentNullException(nameof(systemId), "exactly-once needs the cluster's system id"));
            // One PostgreSQL transaction is one Kafka transaction at least, however large; librdkafka
            // requires messages to time out within the transaction.
            settings.TransactionTimeoutMs = 600_000;
            settings.MessageTimeoutMs = 600_000;
        }

        foreach (var (key, value) in config.Properties)
            settings.Set(key, value);
        return settings;
    }
}
