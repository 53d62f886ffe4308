using Confluent.Kafka;
using PgReplicateKafka.Embedded;

namespace PgReplicateKafka.Tests.Support;

/// <summary>Fault injection into a <see cref="MockKafkaCluster"/>; every call throws once the cluster is disposed.</summary>
public static class MockKafkaFaults
{
    /// <summary>Takes a broker down (its connections drop, it refuses new ones); -1 means all brokers.</summary>
    public static void SetBrokerDown(this MockKafkaCluster cluster, int brokerId) =>
        MockKafkaCluster.Check(LibRdKafkaFaults.rd_kafka_mock_broker_set_down(cluster.NativeHandle, brokerId), nameof(SetBrokerDown));

    /// <summary>Brings a broker back up; -1 means all brokers.</summary>
    public static void SetBrokerUp(this MockKafkaCluster cluster, int brokerId) =>
        MockKafkaCluster.Check(LibRdKafkaFaults.rd_kafka_mock_broker_set_up(cluster.NativeHandle, brokerId), nameof(SetBrokerUp));

    /// <summary>Delays every response of a broker by <paramref name="rttMs"/>; -1 means all brokers.</summary>
    public static void SetRtt(this MockKafkaCluster cluster, int brokerId, int rttMs) =>
        MockKafkaCluster.Check(LibRdKafkaFaults.rd_kafka_mock_broker_set_rtt(cluster.NativeHandle, brokerId, rttMs), nameof(SetRtt));

    /// <summary>
    /// Makes the next requests with <paramref name="apiKey"/> (e.g. 0 = Produce) fail with these errors, one each,
    /// on whichever broker gets them. <see cref="ErrorCode.Local_Transport"/> drops the connection instead.
    /// </summary>
    public static void PushRequestErrors(this MockKafkaCluster cluster, short apiKey, params ErrorCode[] errors)
    {
        var codes = Array.ConvertAll(errors, e => (int)e);
        LibRdKafkaFaults.rd_kafka_mock_push_request_errors_array(cluster.NativeHandle, apiKey, (nuint)codes.Length, codes);
    }

    public static void ClearRequestErrors(this MockKafkaCluster cluster, short apiKey) =>
        LibRdKafkaFaults.rd_kafka_mock_clear_request_errors(cluster.NativeHandle, apiKey);

    public static void SetPartitionLeader(this MockKafkaCluster cluster, string topic, int partition, int brokerId) =>
        MockKafkaCluster.Check(LibRdKafkaFaults.rd_kafka_mock_partition_set_leader(cluster.NativeHandle, topic, partition, brokerId), nameof(SetPartitionLeader));
}
