using System.Reflection;
using System.Runtime.InteropServices;
using PgReplicateKafka.Embedded;

namespace PgReplicateKafka.Tests.Support;

/// <summary>
/// The only place in the test assembly that P/Invokes librdkafka: its fault-injection functions, which
/// nothing outside the tests calls. .NET allows one DllImport resolver per assembly, so this assembly's
/// is set here once; it defers to the Embedded project's, so both bind the file Confluent.Kafka loaded.
/// </summary>
internal static partial class LibRdKafkaFaults
{
    static LibRdKafkaFaults()
    {
        NativeLibrary.SetDllImportResolver(typeof(LibRdKafkaFaults).Assembly, Resolve);
    }

    private static IntPtr Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath) =>
        LibRdKafka.TryResolve(libraryName, out var handle) ? handle : IntPtr.Zero;

    [LibraryImport(LibRdKafka.LibraryName, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int rd_kafka_test_fatal_error(IntPtr rk, int err, string reason);

    [LibraryImport(LibRdKafka.LibraryName)]
    internal static partial int rd_kafka_mock_broker_set_down(IntPtr mcluster, int brokerId);

    [LibraryImport(LibRdKafka.LibraryName)]
    internal static partial int rd_kafka_mock_broker_set_up(IntPtr mcluster, int brokerId);

    [LibraryImport(LibRdKafka.LibraryName)]
    internal static partial int rd_kafka_mock_broker_set_rtt(IntPtr mcluster, int brokerId, int rttMs);

    [LibraryImport(LibRdKafka.LibraryName)]
    internal static partial void rd_kafka_mock_push_request_errors_array(IntPtr mcluster, short apiKey, nuint count, int[] errors);

    [LibraryImport(LibRdKafka.LibraryName)]
    internal static partial void rd_kafka_mock_clear_request_errors(IntPtr mcluster, short apiKey);

    [LibraryImport(LibRdKafka.LibraryName, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int rd_kafka_mock_partition_set_leader(IntPtr mcluster, string topic, int partition, int brokerId);
}
