using System.Text;
using Confluent.Kafka;

namespace PgReplicateKafka.Tests.Support;

public sealed record ConsumedMessage(
    string Topic, int Partition, long Offset, string? Key, string? Value, DateTimeOffset Timestamp, IReadOnlyDictionary<string, string>? Headers = null)
{
    /// <summary>A header's value as text (the last one of that name); null when absent.</summary>
    public string? Header(string name) => Headers is not null && Headers.TryGetValue(name, out var value) ? value : null;
}

/// <summary>Reads topics from the beginning, as a downstream consumer of the product would.</summary>
public static class KafkaTestConsumer
{
    /// <summary>
    /// Returns once <paramref name="expectedCount"/> records arrived, or at <paramref name="timeout"/> with what did.
    /// A <paramref name="quietPeriod"/> keeps reading that long after the count is reached, so a test can see extras.
    /// Topics that do not exist yet are picked up once they are created.
    /// </summary>
    public static Task<IReadOnlyList<ConsumedMessage>> ConsumeAsync(
        string bootstrap,
        IEnumerable<string> topics,
        int expectedCount,
        TimeSpan timeout,
        TimeSpan? quietPeriod = null,
        CancellationToken ct = default)
    {
        var topicList = topics.ToList();
        return Task.Run(() => Consume(bootstrap, topicList, expectedCount, timeout, quietPeriod ?? TimeSpan.Zero, ct), ct);
    }

    private static IReadOnlyList<ConsumedMessage> Consume(
        string bootstrap, List<string> topics, int expectedCount, TimeSpan timeout, TimeSpan quietPeriod, CancellationToken ct)
    {
        var config = new ConsumerConfig
        {
            BootstrapServers = bootstrap,
            GroupId = "test-" + Guid.NewGuid().ToString("N"),
            AutoOffsetReset = AutoOffsetReset.Earliest,
            IsolationLevel = IsolationLevel.ReadCommitted,
            EnableAutoCommit = false,
            // A subscription to a topic that does not exist yet is retried only at each metadata refresh (default 5 min).
            TopicMetadataRefreshIntervalMs = 200,
        };
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(config)
            .SetKeyDeserializer(Deserializers.ByteArray)
            .SetValueDeserializer(Deserializers.ByteArray)
            // Missing topics report UNKNOWN_TOPIC_OR_PART until they appear; that is expected here.
            .SetErrorHandler((_, _) => { })
            .SetLogHandler((_, _) => { })
            .Build();
        consumer.Subscribe(topics);
        var result = new List<ConsumedMessage>();
        var deadline = DateTime.UtcNow + timeout;
        DateTime? quietUntil = null;
        try
        {
            while (!ct.IsCancellationRequested)
            {
                var now = DateTime.UtcNow;
                var until = quietUntil ?? deadline;
                if (now >= until)
                {
                    break;
                }

                ConsumeResult<byte[]?, byte[]?>? record;
                try
                {
                    record = consumer.Consume(until - now < TimeSpan.FromMilliseconds(100) ? until - now : TimeSpan.FromMilliseconds(100));
                }
                catch (ConsumeException e) when (!e.Error.IsFatal)
                {
                    continue; // e.g. the subscribed topic is not there yet
                }

                if (record is null || record.IsPartitionEOF)
                {
                    continue;
                }

                result.Add(new ConsumedMessage(
                    record.Topic,
                    record.Partition.Value,
                    record.Offset.Value,
                    record.Message.Key is null ? null : Encoding.UTF8.GetString(record.Message.Key),
                    record.Message.Value is null ? null : Encoding.UTF8.GetString(record.Message.Value),
                    record.Message.Timestamp.UtcDateTime,
                    HeadersOf(record.Message.Headers)));
                if (result.Count >= expectedCount && quietUntil is null)
                {
                    quietUntil = DateTime.UtcNow + quietPeriod;
                }
            }
        }
        finally
        {
            consumer.Close();
        }

        return result;
    }

    private static Dictionary<string, string>? HeadersOf(Headers? headers)
    {
        if (headers is null || headers.Count == 0)
            return null;
        var texts = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var header in headers)
            texts[header.Key] = Encoding.UTF8.GetString(header.GetValueBytes());
        return texts;
    }
}
