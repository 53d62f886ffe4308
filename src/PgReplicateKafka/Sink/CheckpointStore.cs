using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Events;

namespace PgReplicateKafka.Sink;

/// <summary>
/// What one checkpoint says: Kafka holds every PostgreSQL transaction up to <paramref name="Lsn"/> of
/// the slot first seen at <paramref name="SlotOrigin"/> on cluster <paramref name="SystemId"/>,
/// timeline <paramref name="Timeline"/>.
/// </summary>
public sealed record Checkpoint(string SystemId, uint Timeline, ulong SlotOrigin, ulong Lsn);

/// <summary>
/// Exactly-once checkpoints: a record (cluster, database and slot → end LSN of the last PostgreSQL
/// commit) written inside every Kafka transaction to a compacted topic, so Kafka itself says which
/// PostgreSQL transactions it holds, even when PostgreSQL never heard our confirmation.
/// </summary>
public sealed partial class CheckpointStore(ReplicatorConfig config, string systemId, ILogger logger)
{
    // Several slots share the topic: each reads only its key's partition, so another slot's open
    // transaction (which holds back read_committed readers of its partition) rarely stands in the way.
    private const int Partitions = 16;

    private readonly CompactedTopic _compacted = new(
        config.Kafka, config.Kafka.CheckpointTopic ?? $"{config.Kafka.TopicPrefix}.pg-replicate-kafka.checkpoints", Partitions, "checkpoint", logger);

    public string Topic => _compacted.Name;

    /// <summary>The PostgreSQL cluster (IDENTIFY_SYSTEM's system id) the checkpoints are of.</summary>
    public string SystemId => systemId;

    /// <summary>The record key: one checkpoint per cluster, database and slot, kept by compaction.</summary>
    public byte[] Key { get; } = JsonSerializer.SerializeToUtf8Bytes(new KeyRecord(systemId, config.Postgres.Database, config.Postgres.SlotName), CheckpointJson.Default.KeyRecord);

    public byte[] Record(Checkpoint checkpoint) => JsonSerializer.SerializeToUtf8Bytes(
        new ValueRecord(
            checkpoint.SystemId, checkpoint.Timeline, config.Postgres.Database, config.Postgres.SlotName,
            Lsn.Format(checkpoint.SlotOrigin), Lsn.Format(checkpoint.Lsn), DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()),
        CheckpointJson.Default.ValueRecord);

    /// <summary>Creates the topic compacted, once (see <see cref="CompactedTopic.EnsureAsync"/>).</summary>
    public Task EnsureTopicAsync() => _compacted.EnsureAsync();

    /// <summary>
    /// The last committed checkpoint of this cluster, database and slot, or null when there is none.
    /// Reads its partition to the end (read_committed) or throws <see cref="CheckpointUnavailableException"/>:
    /// a partial read could miss the newest checkpoint and resend what Kafka already holds.
    /// </summary>
    public Checkpoint? ReadLast(TimeSpan timeout)
    {
        var settings = KafkaSettings.ReadToEnd(config.Kafka, "pg-replicate-kafka-checkpoint-reader");
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(settings).SetErrorHandler((_, _) => { }).SetLogHandler((_, _) => { }).Build();
        var watch = Stopwatch.StartNew();
        TopicPartition partition;
        long end;
        try
        {
            using var admin = new DependentAdminClientBuilder(consumer.Handle).Build();
            var metadata = admin.GetMetadata(Topic, timeout).Topics.SingleOrDefault();
            if (metadata is null || metadata.Error.Code == ErrorCode.UnknownTopicOrPart || metadata.Partitions.Count == 0)
                return null;
            if (metadata.Error.IsError)
                throw new CheckpointUnavailableException($"cannot read checkpoint topic {Topic}: {metadata.Error.Reason}");
            partition = new TopicPartition(Topic, PartitionOf(Key, metadata.Partitions.Count));
            // The high watermark counts transaction markers too; the reader's end-of-partition offset is
            // past the last marker once it has seen everything.
            end = consumer.QueryWatermarkOffsets(partition, timeout).High.Value;
        }
        catch (KafkaException e)
        {
            throw new CheckpointUnavailableException($"cannot read checkpoint topic {Topic}: {e.Error.Reason}", e);
        }

        if (end <= 0)
            return null;
        consumer.Assign(new TopicPartitionOffset(partition, Offset.Beginning));
        Checkpoint? last = null;
        long reached = 0;
        while (watch.Elapsed < timeout)
        {
            ConsumeResult<byte[]?, byte[]?>? result;
            try
            {
                result = consumer.Consume(timeout - watch.Elapsed);
            }
            catch (ConsumeException e)
            {
                throw new CheckpointUnavailableException($"cannot read checkpoint topic {Topic}: {e.Error.Reason}", e);
            }

            if (result is null)
                continue;
            if (result.IsPartitionEOF)
            {
                reached = result.Offset.Value;
                if (reached >= end)
                    return last;
                continue;
            }

            if (result.Message.Key is { } key && key.AsSpan().SequenceEqual(Key) && result.Message.Value is { } value)
                last = Parse(value);
        }

        // read_committed stops at the last stable offset: an open transaction holds back what follows.
        throw new CheckpointUnavailableException(
            $"could not read checkpoint topic {Topic} partition {partition.Partition.Value} to its end (offset {end}, reached {reached}) within " +
            $"{timeout.TotalSeconds:0} s: another producer's open transaction holds it back until it commits or times out " +
            "(transaction.timeout.ms); give each slot its own [kafka] checkpoint_topic to avoid waiting for other slots");
    }

    /// <summary>The partition the producer's murmur2 partitioner (Java-compatible) puts <paramref name="key"/> in.</summary>
    public static int PartitionOf(ReadOnlySpan<byte> key, int partitions) => (int)((Murmur2(key) & 0x7fffffff) % (uint)partitions);

    private static Checkpoint Parse(byte[] value)
    {
        var root = JsonDocument.Parse(value).RootElement;
        string? Text(string name) => root.TryGetProperty(name, out var p) ? p.GetString() : null;
        return new Checkpoint(
            Text("system_id") ?? "",
            root.TryGetProperty("timeline", out var timeline) ? timeline.GetUInt32() : 0,
            Text("slot_origin") is { } origin ? Lsn.Parse(origin) : ulong.MaxValue,
            Lsn.Parse(Text("lsn")!));
    }

    private static uint Murmur2(ReadOnlySpan<byte> data)
    {
        const uint m = 0x5bd1e995;
        var h = 0x9747b28c ^ (uint)data.Length;
        var i = 0;
        for (; i + 4 <= data.Length; i += 4)
        {
            var k = (uint)(data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24));
            k *= m;
            k ^= k >> 24;
            k *= m;
            h *= m;
            h ^= k;
        }

        switch (data.Length - i)
        {
            case 3:
                h ^= (uint)data[i + 2] << 16;
                goto case 2;
            case 2:
                h ^= (uint)data[i + 1] << 8;
                goto case 1;
            case 1:
                h ^= data[i];
                h *= m;
                break;
        }

        h ^= h >> 13;
        h *= m;
        h ^= h >> 15;
        return h;
    }

    // The key's bytes are what compaction and ReadLast match on: its fields keep this order.
    private sealed record KeyRecord(string SystemId, string Database, string Slot);

    private sealed record ValueRecord(string SystemId, uint Timeline, string Database, string Slot, string SlotOrigin, string Lsn, long TsMs);

    // Generated at build time: the published binary is trimmed, which turns reflection-based
    // serialization off (exactly-once failed at start-up).
    [JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
    [JsonSerializable(typeof(KeyRecord))]
    [JsonSerializable(typeof(ValueRecord))]
    private sealed partial class CheckpointJson : JsonSerializerContext;
}
