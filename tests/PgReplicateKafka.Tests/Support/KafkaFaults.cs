using System.Reflection;
using System.Runtime.InteropServices;
using Confluent.Kafka;
using PgReplicateKafka.Embedded;

namespace PgReplicateKafka.Tests.Support;

/// <summary>Fault injection into a live client, for tests of what the mock broker cannot provoke.</summary>
public static class KafkaFaults
{
    /// <summary>
    /// Makes librdkafka raise a fatal error in <paramref name="client"/>, as an idempotent producer
    /// does when it can no longer guarantee ordering (librdkafka's rd_kafka_test_fatal_error).
    /// </summary>
    public static void RaiseFatalError(IClient client, ErrorCode code, string reason)
    {
        // Confluent.Kafka keeps the native handle internal; reflection is the only way to reach it.
        var native = typeof(Handle).GetProperty("LibrdkafkaHandle", BindingFlags.NonPublic | BindingFlags.Instance)?.GetValue(client.Handle) as SafeHandle
            ?? throw new InvalidOperationException("Confluent.Kafka's native handle was not found");
        LibRdKafka.EnsureLoaded();
        var err = LibRdKafkaFaults.rd_kafka_test_fatal_error(native.DangerousGetHandle(), (int)code, reason);
        if (err != 0)
            throw new KafkaException(new Error((ErrorCode)err, $"rd_kafka_test_fatal_error failed: {LibRdKafka.ErrorName(err)}"));
    }
}
