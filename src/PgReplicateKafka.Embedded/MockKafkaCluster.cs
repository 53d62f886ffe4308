using System.Runtime.InteropServices;
using Confluent.Kafka;

namespace PgReplicateKafka.Embedded;

/// <summary>
/// librdkafka's built-in mock Kafka cluster: real loopback TCP brokers speaking the Kafka protocol.
/// No CreateTopics API: topics auto-create (4 partitions) or use <see cref="CreateTopic"/>.
/// Fault injection lives with the tests, on <see cref="NativeHandle"/>.
/// </summary>
public sealed class MockKafkaCluster : IDisposable
{
    private const int RdKafkaProducer = 0;

    private readonly Lock _lock = new();
    private IntPtr _rk;
    private IntPtr _cluster;

    private MockKafkaCluster(IntPtr rk, IntPtr cluster, int brokerCount)
    {
        _rk = rk;
        _cluster = cluster;
        BrokerCount = brokerCount;
        BootstrapServers = Marshal.PtrToStringUTF8(LibRdKafka.rd_kafka_mock_cluster_bootstraps(cluster))
            ?? throw new InvalidOperationException("mock cluster returned no bootstrap servers");
    }

    /// <summary>Comma-separated host:port list of the brokers (ids 1..BrokerCount).</summary>
    public string BootstrapServers { get; }

    public int BrokerCount { get; }

    /// <summary>Starts a cluster of <paramref name="brokers"/> brokers with ids 1..brokers.</summary>
    public static MockKafkaCluster Start(int brokers = 3)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(brokers, 1);
        LibRdKafka.EnsureLoaded();
        var errbuf = new byte[512];
        var conf = LibRdKafka.rd_kafka_conf_new();
        // The hosting handle has no bootstrap.servers by design; keep its notice about that out of test output.
        if (LibRdKafka.rd_kafka_conf_set(conf, "log_level", "3", errbuf, (nuint)errbuf.Length) != 0)
        {
            LibRdKafka.rd_kafka_conf_destroy(conf);
            throw new KafkaException(new Error(ErrorCode.Local_Fail, "rd_kafka_conf_set: " + CString(errbuf)));
        }

        // The cluster needs a handle only to host its thread; Confluent.Kafka's own handles are internal.
        var rk = LibRdKafka.rd_kafka_new(RdKafkaProducer, conf, errbuf, (nuint)errbuf.Length);
        if (rk == IntPtr.Zero)
        {
            LibRdKafka.rd_kafka_conf_destroy(conf); // rd_kafka_new takes ownership only on success
            throw new KafkaException(new Error(ErrorCode.Local_Fail, "rd_kafka_new: " + CString(errbuf)));
        }

        var cluster = LibRdKafka.rd_kafka_mock_cluster_new(rk, brokers);
        if (cluster == IntPtr.Zero)
        {
            LibRdKafka.rd_kafka_destroy(rk);
            throw new KafkaException(new Error(ErrorCode.Local_Fail, "rd_kafka_mock_cluster_new failed"));
        }

        // The mock defaults to a 3 s initial rebalance delay like a production broker; every
        // subscribing test consumer would pay it.
        LibRdKafka.rd_kafka_mock_group_initial_rebalance_delay_ms(cluster, 0);
        return new MockKafkaCluster(rk, cluster, brokers);
    }

    public void CreateTopic(string topic, int partitions, int replicationFactor = 1) =>
        Check(LibRdKafka.rd_kafka_mock_topic_create(NativeHandle, topic, partitions, replicationFactor), nameof(CreateTopic));

    public void Dispose()
    {
        lock (_lock)
        {
            if (_cluster != IntPtr.Zero)
            {
                LibRdKafka.rd_kafka_mock_cluster_destroy(_cluster);
                _cluster = IntPtr.Zero;
            }

            if (_rk != IntPtr.Zero)
            {
                LibRdKafka.rd_kafka_destroy(_rk);
                _rk = IntPtr.Zero;
            }
        }
    }

    /// <summary>The native rd_kafka_mock_cluster_t; throws once disposed.</summary>
    internal IntPtr NativeHandle
    {
        get
        {
            ObjectDisposedException.ThrowIf(_cluster == IntPtr.Zero, this);
            return _cluster;
        }
    }

    /// <summary>Throws a <see cref="KafkaException"/> naming <paramref name="operation"/> if <paramref name="err"/> is an error.</summary>
    internal static void Check(int err, string operation)
    {
        if (err != 0)
        {
            throw new KafkaException(new Error((ErrorCode)err, $"{operation}: {LibRdKafka.ErrorName(err)}"));
        }
    }

    private static string CString(byte[] buffer)
    {
        var end = Array.IndexOf(buffer, (byte)0);
        return System.Text.Encoding.UTF8.GetString(buffer, 0, end < 0 ? buffer.Length : end);
    }
}
