using PgReplicateKafka.Embedded;

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

    public void Dispose() => Mock?.Dispose();
}
