using System.Text.Json;
using System.Text.Json.Serialization;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Events;

namespace PgReplicateKafka.Sink;

/// <summary>
/// Snapshot progress in a compacted Kafka topic: one record per database, slot and table, keyed
/// <c>{"database":…,"slot":…,"table":…}</c>, the newest of which is the table's progress. Written
/// only once Kafka acknowledged the chunks it counts, so a restart never skips an unacknowledged row.
/// Beside them, keyed <c>{"database":…,"slot":…}</c>, the slot incarnation they belong to now.
/// </summary>
public sealed partial class SnapshotProgressStore(ReplicatorConfig config, ILogger logger, string? topic = null)
{
    private readonly CompactedTopic _compacted = new(config.Kafka, topic ?? $"{config.Kafka.TopicPrefix}.pg-replicate-kafka.snapshots", 1, "snapshot progress", logger);

    public string Topic => _compacted.Name;

    public byte[] Key(SnapshotTableProgress progress) =>
        JsonSerializer.SerializeToUtf8Bytes(new KeyRecord
        {
            Database = config.Postgres.Database,
            Slot = config.Postgres.SlotName,
            Table = progress.Table,
            Request = progress.Where is null ? null : progress.SnapshotId,
        }, ProgressJson.Default.KeyRecord);

    /// <summary>The record for <paramref name="progress"/>, for a producer inside a Kafka transaction (exactly-once).</summary>
    public Message<byte[]?, byte[]?> Record(SnapshotTableProgress progress)
    {
        var ranges = new RangeRecord[progress.Ranges.Count];
        for (var i = 0; i < ranges.Length; i++)
        {
            var range = progress.Ranges[i];
            ranges[i] = new RangeRecord { Lower = range.Lower, Upper = range.Upper, LastKey = range.LastKey, Done = range.Done };
        }

        var value = new ValueRecord
        {
            Database = config.Postgres.Database,
            Slot = config.Postgres.SlotName,
            Table = progress.Table,
            Snapshot = progress.SnapshotId,
            State = progress.State switch
            {
                SnapshotTableState.Pending => "pending",
                SnapshotTableState.InProgress => "in_progress",
                _ => "done",
            },
            Rows = progress.RowsRead,
            Ranges = ranges,
            Where = progress.Where,
            SystemId = progress.Slot?.SystemId,
            SlotOrigin = progress.Slot is { } slot ? Lsn.Format(slot.Origin) : null,
            TsMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
        };
        return new Message<byte[]?, byte[]?> { Key = Key(progress), Value = JsonSerializer.SerializeToUtf8Bytes(value, ProgressJson.Default.ValueRecord) };
    }

    /// <summary>The record saying which incarnation of the slot the progress belongs to from now on.</summary>
    public Message<byte[]?, byte[]?> SlotRecord(SlotIncarnation slot) => new()
    {
        Key = JsonSerializer.SerializeToUtf8Bytes(new KeyRecord { Database = config.Postgres.Database, Slot = config.Postgres.SlotName }, ProgressJson.Default.KeyRecord),
        Value = JsonSerializer.SerializeToUtf8Bytes(
            new SlotValueRecord
            {
                Database = config.Postgres.Database,
                Slot = config.Postgres.SlotName,
                SystemId = slot.SystemId,
                SlotOrigin = Lsn.Format(slot.Origin),
                TsMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            },
            ProgressJson.Default.SlotValueRecord),
    };

    /// <summary>
    /// Writes <paramref name="records"/> outside the replication stream (the slot's incarnation before the slot
    /// is created, a snapshot's plan before its first chunk) and returns once Kafka acknowledged each. Its own
    /// short-lived producer: the replicator's may be transactional, and these writes are rare.
    /// </summary>
    public async Task WriteAsync(IReadOnlyList<Message<byte[]?, byte[]?>> records, CancellationToken ct)
    {
        if (records.Count == 0)
            return;
        await EnsureTopicAsync();
        var settings = new ProducerConfig(KafkaSettings.Client(config.Kafka))
        {
            EnableIdempotence = true,
            Acks = Acks.All,
            // As the replicator's producer partitions, so a table's records stay in one partition, in order.
            Partitioner = Partitioner.Murmur2Random,
            MessageTimeoutMs = (int)config.Kafka.ConnectTimeout.TotalMilliseconds,
        };
        using var producer = new ProducerBuilder<byte[]?, byte[]?>(settings).SetErrorHandler((_, _) => { }).SetLogHandler((_, _) => { }).Build();
        foreach (var record in records)
        {
            try
            {
                await producer.ProduceAsync(Topic, record, ct);
            }
            catch (ProduceException<byte[]?, byte[]?> e)
            {
                throw new KafkaFailureException($"Kafka did not store a snapshot progress record in topic {Topic}: {e.Error.Reason}", e);
            }
        }
    }

    /// <summary>Writes <paramref name="progress"/> and returns once Kafka acknowledged it.</summary>
    public async Task SaveAsync(IProducer<byte[]?, byte[]?> producer, SnapshotTableProgress progress, CancellationToken ct)
    {
        try
        {
            await producer.ProduceAsync(Topic, Record(progress), ct);
        }
        catch (ProduceException<byte[]?, byte[]?> e)
        {
            throw new KafkaFailureException($"Kafka did not store the snapshot progress of {progress.Table} in topic {Topic}: {e.Error.Reason}", e);
        }
    }

    /// <summary>Creates the topic compacted, once (see <see cref="CompactedTopic"/>).</summary>
    public Task EnsureTopicAsync() => _compacted.EnsureAsync();

    /// <summary>
    /// The committed progress of every table of this database and slot name, and the slot incarnation
    /// recorded last. Reads each partition to its end offset as it was when the read began, and throws
    /// <see cref="KafkaFailureException"/> when it cannot get there within <paramref name="timeout"/>
    /// (e.g. an open transaction holds read_committed back): a partial view would restart tables.
    /// </summary>
    public RecordedProgress ReadAll(TimeSpan timeout)
    {
        var settings = KafkaSettings.ReadToEnd(config.Kafka, "pg-replicate-kafka-snapshot-reader");
        // Connection failures are reported once, as the exception below; librdkafka would print every retry to stderr.
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(settings).SetErrorHandler((_, _) => { }).SetLogHandler((_, _) => { }).Build();
        var deadline = DateTime.UtcNow + timeout;

        using var admin = new DependentAdminClientBuilder(consumer.Handle).Build();
        Metadata metadata;
        try
        {
            metadata = admin.GetMetadata(Topic, timeout);
        }
        catch (KafkaException e)
        {
            throw Incomplete($"its metadata could not be read: {e.Error.Reason}", e);
        }

        var progress = new Dictionary<string, SnapshotTableProgress>();
        SlotIncarnation? slot = null;
        var topicMetadata = metadata.Topics.SingleOrDefault(t => t.Topic == Topic);
        if (topicMetadata is null || topicMetadata.Error.Code == ErrorCode.UnknownTopicOrPart)
            return new RecordedProgress(progress, null); // no snapshot ever recorded progress
        if (topicMetadata.Error.IsError)
            throw Incomplete($"its metadata says {topicMetadata.Error.Reason}");

        // The end offsets now: everything committed before the read began lies below them.
        var ends = new Dictionary<TopicPartition, long>();
        foreach (var partition in topicMetadata.Partitions)
        {
            var tp = new TopicPartition(Topic, partition.PartitionId);
            WatermarkOffsets offsets;
            try
            {
                offsets = consumer.QueryWatermarkOffsets(tp, Remaining(deadline));
            }
            catch (KafkaException e)
            {
                throw Incomplete($"the end offset of partition {partition.PartitionId} could not be read: {e.Error.Reason}", e);
            }

            if (offsets.High.Value > offsets.Low.Value)
                ends[tp] = offsets.High.Value;
        }

        consumer.Assign(ends.Keys.Select(tp => new TopicPartitionOffset(tp, Offset.Beginning)));
        while (ends.Count > 0)
        {
            if (DateTime.UtcNow >= deadline)
            {
                throw Incomplete(
                    $"{ends.Count} partition(s) were not read to their end within {timeout.TotalSeconds:0} s " +
                    "(a transaction left open by a crashed producer holds read_committed back until it times out)");
            }

            ConsumeResult<byte[]?, byte[]?>? result;
            try
            {
                result = consumer.Consume(TimeSpan.FromMilliseconds(100));
            }
            catch (ConsumeException e)
            {
                throw Incomplete(e.Error.Reason, e);
            }

            if (result is null || !ends.TryGetValue(result.TopicPartition, out var end))
                continue; // nothing yet, or a partition read to its end already
            if (!result.IsPartitionEOF)
                Apply(result.Message, progress, ref slot);

            // Transaction markers occupy offsets too, so the last record may lie below the end: the
            // end-of-partition event carries the fetch position, which has passed them.
            var reached = result.IsPartitionEOF ? result.Offset.Value : result.Offset.Value + 1;
            if (reached >= end)
                ends.Remove(result.TopicPartition);
        }

        return new RecordedProgress(progress, slot);
    }

    private void Apply(Message<byte[]?, byte[]?> message, Dictionary<string, SnapshotTableProgress> progress, ref SlotIncarnation? slot)
    {
        if (message.Key is null)
            return;
        KeyRecord? key;
        try
        {
            key = JsonSerializer.Deserialize(message.Key, ProgressJson.Default.KeyRecord);
        }
        catch (JsonException)
        {
            return; // not ours
        }

        if (key is null || key.Database != config.Postgres.Database || key.Slot != config.Postgres.SlotName)
            return;
        if (key.Table is null)
        {
            slot = message.Value is null ? null : ParseSlot(message.Value);
            return;
        }

        if (message.Value is null)
        {
            progress.Remove(SnapshotTableProgress.KeyOf(key.Table, key.Request)); // a tombstone forgets the record
            return;
        }

        ValueRecord? value;
        try
        {
            value = JsonSerializer.Deserialize(message.Value, ProgressJson.Default.ValueRecord);
        }
        catch (JsonException e)
        {
            throw Incomplete($"the record for {key.Table} is not valid JSON: {e.Message}", e);
        }

        if (value?.Snapshot is null || value.Ranges is null)
            throw Incomplete($"the record for {key.Table} lacks the snapshot id or the ranges");
        var state = value.State switch
        {
            "pending" => SnapshotTableState.Pending,
            "in_progress" => SnapshotTableState.InProgress,
            "done" => SnapshotTableState.Done,
            _ => throw Incomplete($"the record for {key.Table} has an unknown state \"{value.State}\""),
        };
        var ranges = new SnapshotRangeProgress[value.Ranges.Length];
        for (var i = 0; i < ranges.Length; i++)
        {
            var range = value.Ranges[i];
            ranges[i] = new SnapshotRangeProgress(range.Lower, range.Upper, range.LastKey, range.Done);
        }

        var record = new SnapshotTableProgress(key.Table, value.Snapshot, state, value.Rows, ranges, value.Where)
        {
            Slot = value.SystemId is { } systemId && value.SlotOrigin is { } origin ? new SlotIncarnation(systemId, ParseLsn(origin, key.Table)) : null,
        };
        // By the Kafka key, as compaction keeps them: the newest record of a key wins.
        progress[SnapshotTableProgress.KeyOf(key.Table, key.Request)] = record;
    }

    private SlotIncarnation ParseSlot(byte[] value)
    {
        SlotValueRecord? record;
        try
        {
            record = JsonSerializer.Deserialize(value, ProgressJson.Default.SlotValueRecord);
        }
        catch (JsonException e)
        {
            throw Incomplete($"the record of slot {config.Postgres.SlotName} is not valid JSON: {e.Message}", e);
        }

        if (record?.SystemId is null || record.SlotOrigin is null)
            throw Incomplete($"the record of slot {config.Postgres.SlotName} lacks system_id or slot_origin");
        return new SlotIncarnation(record.SystemId, ParseLsn(record.SlotOrigin, "slot " + config.Postgres.SlotName));
    }

    private ulong ParseLsn(string text, string of)
    {
        try
        {
            return Lsn.Parse(text);
        }
        catch (FormatException e)
        {
            throw Incomplete($"the record of {of} has an invalid slot_origin \"{text}\"", e);
        }
    }

    private KafkaFailureException Incomplete(string reason, Exception? inner = null) =>
        new($"could not read the snapshot progress from topic {Topic}: {reason}", inner);

    private static TimeSpan Remaining(DateTime deadline)
    {
        var left = deadline - DateTime.UtcNow;
        return left > TimeSpan.Zero ? left : TimeSpan.FromMilliseconds(1);
    }
}
