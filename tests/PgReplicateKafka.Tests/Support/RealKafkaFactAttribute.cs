namespace PgReplicateKafka.Tests.Support;

/// <summary>
/// A test that only a real Kafka broker can judge: librdkafka's mock broker neither fences a producer nor
/// aborts its open transaction when another initializes with the same transactional.id (its
/// InitProducerId hands out a new producer id), so read_committed consumers see what a killed producer
/// left open. It runs when KAFKA_BOOTSTRAP_SERVERS names one.
/// </summary>
public sealed class RealKafkaFactAttribute : FactAttribute
{
    public RealKafkaFactAttribute()
    {
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("KAFKA_BOOTSTRAP_SERVERS")))
            Skip = "needs a real Kafka broker: set KAFKA_BOOTSTRAP_SERVERS (librdkafka's mock broker does not fence a transactional.id's earlier producer)";
    }
}
