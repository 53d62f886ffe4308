using System.Reflection;
using System.Runtime.InteropServices;

namespace PgReplicateKafka.Embedded;

/// <summary>
/// The only place in this assembly that P/Invokes librdkafka. .NET allows one DllImport resolver per
/// assembly, so it is set here once; code that later needs its own resolver must call
/// <see cref="TryResolve"/> from it instead of setting a second one. Another assembly's resolver (the
/// tests', for fault injection) calls it too, so every declaration binds the file Confluent.Kafka loaded.
/// </summary>
internal static partial class LibRdKafka
{
    internal const string LibraryName = "librdkafka";

    // The product's loader chooses the file, so the mock cluster, the tests' fault injection and the producer share one.
    private static IntPtr Handle => Sink.Librdkafka.LibRdKafka.LoadedLibrary;

    static LibRdKafka()
    {
        NativeLibrary.SetDllImportResolver(typeof(LibRdKafka).Assembly, Resolve);
    }

    /// <summary>Loads the native library now, so a missing file fails with a clear message, not at first call.</summary>
    internal static void EnsureLoaded() => _ = Handle;

    /// <summary>Resolves <paramref name="libraryName"/> if it is librdkafka; for reuse by other resolvers.</summary>
    internal static bool TryResolve(string libraryName, out IntPtr handle)
    {
        handle = libraryName == LibraryName ? Handle : IntPtr.Zero;
        return handle != IntPtr.Zero;
    }

    private static IntPtr Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath) =>
        TryResolve(libraryName, out var handle) ? handle : IntPtr.Zero;

    internal static string ErrorName(int err) => Marshal.PtrToStringUTF8(rd_kafka_err2name(err)) ?? err.ToString();

    [LibraryImport(LibraryName)]
    internal static partial IntPtr rd_kafka_conf_new();

    [LibraryImport(LibraryName)]
    internal static partial void rd_kafka_conf_destroy(IntPtr conf);

    [LibraryImport(LibraryName, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int rd_kafka_conf_set(IntPtr conf, string name, string value, byte[] errstr, nuint errstrSize);

    [LibraryImport(LibraryName)]
    internal static partial IntPtr rd_kafka_new(int type, IntPtr conf, byte[] errstr, nuint errstrSize);

    [LibraryImport(LibraryName)]
    internal static partial void rd_kafka_destroy(IntPtr rk);

    [LibraryImport(LibraryName)]
    internal static partial IntPtr rd_kafka_err2name(int err);

    [LibraryImport(LibraryName)]
    internal static partial IntPtr rd_kafka_mock_cluster_new(IntPtr rk, int brokerCount);

    [LibraryImport(LibraryName)]
    internal static partial void rd_kafka_mock_cluster_destroy(IntPtr mcluster);

    [LibraryImport(LibraryName)]
    internal static partial IntPtr rd_kafka_mock_cluster_bootstraps(IntPtr mcluster);

    [LibraryImport(LibraryName, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int rd_kafka_mock_topic_create(IntPtr mcluster, string topic, int partitionCount, int replicationFactor);

    [LibraryImport(LibraryName)]
    internal static partial void rd_kafka_mock_group_initial_rebalance_delay_ms(IntPtr mcluster, int delayMs);
}
