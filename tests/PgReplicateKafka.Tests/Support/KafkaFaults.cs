using Confluent.Kafka;
using PgReplicateKafka.Embedded;

namespace PgReplicateKafka.Tests.Support;

/// <summary>Fault injection into a live client, for tests of what the mock broker cannot provoke.</summary>
public static class KafkaFaults
{
    /// <summary>
    /// Makes librdkafka raise a fatal error in <paramref name="producer"/> (an rd_kafka_t), as an idempotent producer
    /// does when it can no longer guarantee ordering (librdkafka's rd_kafka_test_fatal_error).
    /// </summary>
    public static void RaiseFatalError(IntPtr producer, ErrorCode code, string reason)
    {
        LibRdKafka.EnsureLoaded();
        var err = LibRdKafkaFaults.rd_kafka_test_fatal_error(producer, (int)code, reason);
        if (err != 0)
            throw new KafkaException(new Error((ErrorCode)err, $"rd_kafka_test_fatal_error failed: {LibRdKafka.ErrorName(err)}"));
    }
}
