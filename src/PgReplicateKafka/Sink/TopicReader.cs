using Confluent.Kafka;
using PgReplicateKafka.Configuration;

namespace PgReplicateKafka.Sink;

/// <summary>Reads a whole topic once, as a downstream consumer would: every partition from its start, read_committed.</summary>
public static class TopicReader
{
    /// <summary>
    /// Hands every record of <paramref name="topic"/> below the end offsets taken when the read began to
    /// <paramref name="onRecord"/> (key, value), partition by partition in offset order, and returns the
    /// partition count; 0 when the topic does not exist. Throws <see cref="KafkaFailureException"/> when
    /// the brokers do not answer, or no record arrives for <c>[kafka] connect_timeout_secs</c> while some
    /// are still due (an open transaction holds read_committed back).
    /// </summary>
    public static int ReadToEnd(KafkaConfig config, string topic, Action<byte[]?, byte[]?> onRecord, CancellationToken ct)
    {
        var settings = KafkaSettings.ReadToEnd(config, "pg-replicate-kafka-verify");
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(settings)
            .SetErrorHandler((_, _) => { })
            .SetLogHandler((_, _) => { })
            .Build();
        using var admin = new DependentAdminClientBuilder(consumer.Handle).Build();
        Metadata metadata;
        try
        {
            metadata = admin.GetMetadata(topic, config.ConnectTimeout);
        }
        catch (KafkaException e)
        {
            throw Failure(config, topic, $"its metadata could not be read ({e.Error.Reason})", e);
        }

        var topicMetadata = metadata.Topics.Find(t => t.Topic == topic);
        if (topicMetadata is null || topicMetadata.Error.Code == ErrorCode.UnknownTopicOrPart)
            return 0;
        if (topicMetadata.Error.IsError)
            throw Failure(config, topic, $"its metadata says {topicMetadata.Error.Reason}");

        // The end offsets now: a record committed later is not read, so the read ends.
        var ends = new Dictionary<TopicPartition, long>();
        foreach (var partition in topicMetadata.Partitions)
        {
            var tp = new TopicPartition(topic, partition.PartitionId);
            WatermarkOffsets offsets;
            try
            {
                offsets = consumer.QueryWatermarkOffsets(tp, config.ConnectTimeout);
            }
            catch (KafkaException e)
            {
                throw Failure(config, topic, $"the end offset of partition {partition.PartitionId} could not be read ({e.Error.Reason})", e);
            }

            if (offsets.High.Value > offsets.Low.Value)
                ends[tp] = offsets.High.Value;
        }

        consumer.Assign(ends.Keys.Select(tp => new TopicPartitionOffset(tp, Offset.Beginning)));
        var lastProgress = DateTime.UtcNow;
        while (ends.Count > 0)
        {
            ct.ThrowIfCancellationRequested();
            if (DateTime.UtcNow - lastProgress > config.ConnectTimeout)
            {
                throw Failure(config, topic,
                    $"{ends.Count} partition(s) delivered nothing for {config.ConnectTimeoutSecs} s before their end offsets " +
                    "(a transaction left open by a crashed producer holds read_committed back until it times out); try again later");
            }

            ConsumeResult<byte[]?, byte[]?>? result;
            try
            {
                result = consumer.Consume(TimeSpan.FromMilliseconds(100));
            }
            catch (ConsumeException e)
            {
                throw Failure(config, topic, e.Error.Reason, e);
            }

            if (result is null || !ends.TryGetValue(result.TopicPartition, out var end))
                continue;
            lastProgress = DateTime.UtcNow;
            if (!result.IsPartitionEOF && result.Offset.Value < end)
                onRecord(result.Message.Key, result.Message.Value);

            // Transaction markers occupy offsets too, so the last record may lie below the end: the
            // end-of-partition event carries the fetch position, which has passed them.
            var reached = result.IsPartitionEOF ? result.Offset.Value : result.Offset.Value + 1;
            if (reached >= end)
                ends.Remove(result.TopicPartition);
        }

        consumer.Close();
        return topicMetadata.Partitions.Count;
    }

    private static KafkaFailureException Failure(KafkaConfig config, string topic, string reason, Exception? inner = null) =>
        new($"could not read topic {topic} from Kafka brokers {string.Join(',', config.Brokers)}: {reason}; " +
            "check [kafka] brokers and the [kafka.properties] security settings, and that the brokers are running", inner);
}
