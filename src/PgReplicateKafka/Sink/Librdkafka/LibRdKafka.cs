using System.Reflection;
using System.Runtime.InteropServices;

namespace PgReplicateKafka.Sink.Librdkafka;

/// <summary>
/// The librdkafka functions the producer calls directly (<see cref="RdKafkaProducer"/> says why), bound to
/// the file Confluent.Kafka loads: the plain build first, the centos8 build (glibc only) when the plain one
/// cannot load (it needs libsasl2.so.3).
/// </summary>
internal static unsafe partial class LibRdKafka
{
    private const string Name = "librdkafka";

    public const int ProducerType = 0;
    public const int MsgFlagCopy = 0x2;
    public const int PurgeQueue = 0x1;
    public const int PurgeInFlight = 0x2;
    public const int ErrFatal = -150;

    public enum VType
    {
        End = 0,
        Rkt = 2,
        Value = 4,
        Key = 5,
        Opaque = 6,
        MsgFlags = 7,
        Header = 9,
    }

    /// <summary><c>rd_kafka_vu_t</c>: a type and a 64-byte union, whose widest member we use is three words.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 72)]
    public struct Vu
    {
        [FieldOffset(0)] public VType Type;
        [FieldOffset(8)] public nint First;
        [FieldOffset(16)] public nint Second;
        [FieldOffset(24)] public nint Third;
    }

    /// <summary>The head of <c>rd_kafka_message_t</c> up to <c>_private</c>, the per-message opaque.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Message
    {
        public int Err;
        public nint Rkt;
        public int Partition;
        public nint Payload;
        public nuint Len;
        public nint Key;
        public nuint KeyLen;
        public long Offset;
        public nint Private;
    }

    private static readonly Lazy<IntPtr> Handle = new(Load);

    static LibRdKafka()
    {
        NativeLibrary.SetDllImportResolver(typeof(LibRdKafka).Assembly, Resolve);
    }

    /// <summary>The librdkafka file Confluent.Kafka uses, loaded: every assembly of ours that calls librdkafka binds this one.</summary>
    internal static IntPtr LoadedLibrary => Handle.Value;

    private static IntPtr Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath) =>
        libraryName == Name ? Handle.Value : IntPtr.Zero;

    private static IntPtr Load()
    {
        // Confluent.Kafka loads lazily; loading it first means both bind the same file, found the way it finds it.
        _ = Confluent.Kafka.Library.VersionString;
        // A plain build has the native files under runtimes/; a RID-specific publish keeps only the centos8 build, beside the application.
        var tried = new List<string>();
        foreach (var dir in (string[])[Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native"), AppContext.BaseDirectory])
        {
            foreach (var file in (string[])["librdkafka.so", "centos8-librdkafka.so"])
            {
                var path = Path.Combine(dir, file);
                if (NativeLibrary.TryLoad(path, out var handle))
                    return handle;
                tried.Add(path);
            }
        }

        return NativeLibrary.TryLoad(Name, typeof(LibRdKafka).Assembly, null, out var found)
            ? found
            : throw new DllNotFoundException($"librdkafka could not be loaded from any of: {string.Join(", ", tried)}, nor by its name");
    }

    public static string Text(byte* utf8) => Marshal.PtrToStringUTF8((IntPtr)utf8) ?? "";

    [LibraryImport(Name)]
    public static partial IntPtr rd_kafka_conf_new();

    [LibraryImport(Name)]
    public static partial void rd_kafka_conf_destroy(IntPtr conf);

    [LibraryImport(Name, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int rd_kafka_conf_set(IntPtr conf, string name, string value, byte* errstr, nuint errstrSize);

    [LibraryImport(Name)]
    public static partial void rd_kafka_conf_set_opaque(IntPtr conf, IntPtr opaque);

    [LibraryImport(Name)]
    public static partial void rd_kafka_conf_set_dr_msg_cb(IntPtr conf, delegate* unmanaged[Cdecl]<IntPtr, Message*, IntPtr, void> callback);

    [LibraryImport(Name)]
    public static partial void rd_kafka_conf_set_error_cb(IntPtr conf, delegate* unmanaged[Cdecl]<IntPtr, int, byte*, IntPtr, void> callback);

    [LibraryImport(Name)]
    public static partial void rd_kafka_conf_set_log_cb(IntPtr conf, delegate* unmanaged[Cdecl]<IntPtr, int, byte*, byte*, void> callback);

    [LibraryImport(Name)]
    public static partial IntPtr rd_kafka_new(int type, IntPtr conf, byte* errstr, nuint errstrSize);

    [LibraryImport(Name)]
    public static partial void rd_kafka_destroy(IntPtr rk);

    [LibraryImport(Name)]
    public static partial IntPtr rd_kafka_opaque(IntPtr rk);

    [LibraryImport(Name)]
    public static partial int rd_kafka_poll(RdKafkaHandle rk, int timeoutMs);

    [LibraryImport(Name)]
    public static partial int rd_kafka_purge(RdKafkaHandle rk, int flags);

    [LibraryImport(Name, StringMarshalling = StringMarshalling.Utf8)]
    public static partial IntPtr rd_kafka_topic_new(RdKafkaHandle rk, string topic, IntPtr conf);

    [LibraryImport(Name)]
    public static partial void rd_kafka_topic_destroy(IntPtr rkt);

    [LibraryImport(Name)]
    public static partial byte* rd_kafka_topic_name(IntPtr rkt);

    [LibraryImport(Name)]
    public static partial IntPtr rd_kafka_produceva(RdKafkaHandle rk, Vu* vus, nuint count);

    [LibraryImport(Name)]
    public static partial int rd_kafka_fatal_error(RdKafkaHandle rk, byte* errstr, nuint errstrSize);

    [LibraryImport(Name)]
    public static partial byte* rd_kafka_err2str(int err);

    [LibraryImport(Name)]
    public static partial int rd_kafka_error_code(IntPtr error);

    [LibraryImport(Name)]
    public static partial byte* rd_kafka_error_string(IntPtr error);

    [LibraryImport(Name)]
    public static partial int rd_kafka_error_is_fatal(IntPtr error);

    [LibraryImport(Name)]
    public static partial int rd_kafka_error_is_retriable(IntPtr error);

    [LibraryImport(Name)]
    public static partial int rd_kafka_error_txn_requires_abort(IntPtr error);

    [LibraryImport(Name)]
    public static partial void rd_kafka_error_destroy(IntPtr error);

    [LibraryImport(Name)]
    public static partial IntPtr rd_kafka_init_transactions(RdKafkaHandle rk, int timeoutMs);

    [LibraryImport(Name)]
    public static partial IntPtr rd_kafka_begin_transaction(RdKafkaHandle rk);

    [LibraryImport(Name)]
    public static partial IntPtr rd_kafka_commit_transaction(RdKafkaHandle rk, int timeoutMs);

    [LibraryImport(Name)]
    public static partial IntPtr rd_kafka_abort_transaction(RdKafkaHandle rk, int timeoutMs);
}
