namespace PgReplicateKafka.Tests.Support;

/// <summary>
/// A test that only a real Kafka broker can judge (the mock shows aborted transactions to
/// read_committed consumers): it runs when KAFKA_BOOTSTRAP_SERVERS names one.
/// </summary>
public sealed class RealKafkaFactAttribute : FactAttribute
{
    public RealKafkaFactAttribute()
    {
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("KAFKA_BOOTSTRAP_SERVERS")))
            Skip = "needs a real Kafka broker: set KAFKA_BOOTSTRAP_SERVERS (librdkafka's mock broker shows aborted transactions)";
    }
}
