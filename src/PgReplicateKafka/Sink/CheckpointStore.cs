using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Microsoft.Extensions.Logging;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Events;

namespace PgReplicateKafka.Sink;

/// <summary>
/// Exactly-once checkpoints: a record (database and slot → end LSN of the last PostgreSQL commit)
/// written inside every Kafka transaction to a compacted topic, so Kafka itself says which
/// PostgreSQL transactions it holds, even when PostgreSQL never heard our confirmation.
/// </summary>
public sealed class CheckpointStore(ReplicatorConfig config, ILogger logger)
{
    public string Topic { get; } = config.Kafka.CheckpointTopic ?? $"{config.Kafka.TopicPrefix}.pg-replicate-kafka.checkpoints";

    /// <summary>The record key: one checkpoint per database and slot, kept by compaction.</summary>
    public byte[] Key { get; } = JsonSerializer.SerializeToUtf8Bytes(new { database = config.Postgres.Database, slot = config.Postgres.SlotName });

    public byte[] Record(ulong lsn) => JsonSerializer.SerializeToUtf8Bytes(new
    {
        database = config.Postgres.Database,
        slot = config.Postgres.SlotName,
        lsn = Lsn.Format(lsn),
        ts_ms = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
    });

    /// <summary>Creates the topic compacted when the cluster allows it; an existing topic (or a broker without CreateTopics) is fine.</summary>
    public async Task EnsureTopicAsync()
    {
        // Its failures are the producer's too, and the producer reports them.
        using var admin = new AdminClientBuilder(KafkaSettings.Client(config.Kafka)).SetErrorHandler((_, _) => { }).SetLogHandler((_, _) => { }).Build();
        try
        {
            await admin.CreateTopicsAsync(
                [new TopicSpecification { Name = Topic, NumPartitions = 1, ReplicationFactor = -1, Configs = new() { ["cleanup.policy"] = "compact" } }],
                new CreateTopicsOptions { RequestTimeout = TimeSpan.FromSeconds(10) });
            logger.LogInformation("Created checkpoint topic {Topic} (compacted)", Topic);
        }
        catch (KafkaException e)
        {
            logger.LogDebug("Checkpoint topic {Topic} not created: {Reason}", Topic, e.Message);
        }
    }

    /// <summary>The LSN of the last committed checkpoint of this database and slot, or 0 when there is none.</summary>
    public ulong ReadLast(TimeSpan timeout)
    {
        var settings = new ConsumerConfig(KafkaSettings.Client(config.Kafka))
        {
            GroupId = "pg-replicate-kafka-checkpoint-reader",
            IsolationLevel = IsolationLevel.ReadCommitted,
            EnableAutoCommit = false,
            EnablePartitionEof = true,
        };
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(settings).Build();

        using var admin = new DependentAdminClientBuilder(consumer.Handle).Build();
        var metadata = admin.GetMetadata(Topic, timeout).Topics.SingleOrDefault();
        if (metadata is null || metadata.Error.IsError || metadata.Partitions.Count == 0)
            return 0;

        var open = new HashSet<TopicPartition>();
        foreach (var partition in metadata.Partitions)
        {
            var tp = new TopicPartition(Topic, partition.PartitionId);
            if (consumer.QueryWatermarkOffsets(tp, timeout).High.Value > 0)
                open.Add(tp);
        }

        consumer.Assign(open.Select(tp => new TopicPartitionOffset(tp, Offset.Beginning)));
        ulong last = 0;
        var deadline = DateTime.UtcNow + timeout;
        var quietSince = DateTime.UtcNow;
        // read_committed stops at the last stable offset: a transaction left open by a crashed
        // instance holds back what follows it, and nothing past it is committed yet.
        while (open.Count > 0 && DateTime.UtcNow < deadline && DateTime.UtcNow - quietSince < TimeSpan.FromSeconds(2))
        {
            var result = consumer.Consume(TimeSpan.FromMilliseconds(100));
            if (result is null)
                continue;
            quietSince = DateTime.UtcNow;
            if (result.IsPartitionEOF)
            {
                open.Remove(result.TopicPartition);
                continue;
            }

            if (result.Message.Key is { } key && key.AsSpan().SequenceEqual(Key) && result.Message.Value is { } value)
                last = Lsn.Parse(JsonDocument.Parse(value).RootElement.GetProperty("lsn").GetString()!);
        }

        return last;
    }
}
