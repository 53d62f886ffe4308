using Confluent.Kafka;
using Microsoft.Extensions.Logging.Abstractions;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Embedded;
using PgReplicateKafka.Sink;

namespace PgReplicateKafka.Tests.Support;

/// <summary>
/// The Kafka of the "integration" collection: the broker named by KAFKA_BOOTSTRAP_SERVERS if set,
/// else a 3-broker librdkafka mock cluster, which alone supports fault injection.
/// </summary>
public sealed class KafkaFixture : IDisposable
{
    public KafkaFixture()
    {
        var external = Environment.GetEnvironmentVariable("KAFKA_BOOTSTRAP_SERVERS");
        if (string.IsNullOrWhiteSpace(external))
        {
            Mock = MockKafkaCluster.Start(brokers: 3);
            BootstrapServers = Mock.BootstrapServers;
        }
        else
        {
            BootstrapServers = external;
        }
    }

    public string BootstrapServers { get; }

    /// <summary>The mock cluster, or null against a real broker.</summary>
    public MockKafkaCluster? Mock { get; }

    public bool SupportsFaultInjection => Mock is not null;

    /// <summary>A topic prefix unique to the calling test, so reruns against a real broker never see old records.</summary>
    public string NewTopicPrefix() => "t" + Guid.NewGuid().ToString("N")[..10];

    /// <summary>
    /// On the mock broker, makes the replicator's own topics (snapshot progress, checkpoints) for <paramref name="config"/>,
    /// as a real broker's CreateTopics would: the mock has no CreateTopics API and names no controller, and the
    /// replicator waits 3 s for one before leaving the topics to auto-create. Against a real broker the replicator
    /// creates them itself, so this does nothing there.
    /// </summary>
    public void CreateStateTopics(ReplicatorConfig config)
    {
        if (Mock is not { } mock)
            return;
        foreach (var (topic, partitions) in new[]
                 {
                     (new SnapshotProgressStore(config, NullLogger.Instance).Topic, 1),
                     (new CheckpointStore(config, "0", NullLogger.Instance).Topic, 16),
                 })
        {
            try
            {
                mock.CreateTopic(topic, partitions);
            }
            catch (KafkaException e) when (e.Error.Code == ErrorCode.TopicAlreadyExists)
            {
                // Made already for an earlier run with the same prefix.
            }
        }
    }

    public void Dispose() => Mock?.Dispose();
}
