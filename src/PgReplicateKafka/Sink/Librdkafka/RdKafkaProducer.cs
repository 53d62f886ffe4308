using System.Buffers;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Confluent.Kafka;
using static PgReplicateKafka.Sink.Librdkafka.LibRdKafka;

namespace PgReplicateKafka.Sink.Librdkafka;

/// <summary>
/// A librdkafka producer driven directly. Confluent.Kafka's producer costs more CPU per message than the
/// rest of the pipeline can spare: per message it allocates a message and a delivery wrapper, takes a
/// GC handle per key and value and two per header plus a UTF-8 copy of each header's name, and builds
/// several objects for each delivery report (docs/benchmarks.md, the profile before optimisation 8).
/// Here a message is one <c>rd_kafka_produceva</c> over stack memory with cached topic handles and
/// header names, and a delivery report is one GC handle lookup. Consumers and the admin client stay on
/// Confluent.Kafka; its <see cref="Error"/> and exception types are reused so callers see the same errors.
/// </summary>
internal sealed unsafe partial class RdKafkaProducer : IDisposable
{
    private const int ErrorTextSize = 512;
    private const int StackHeaderBytes = 512;

    private readonly RdKafkaHandle _rk;
    private readonly Action<Error> _onError;
    private readonly Action<SyslogLevel, string, string> _onLog;
    private readonly Thread _poller;
    private volatile bool _stopping;


    /// <param name="settings">librdkafka properties; Confluent.Kafka's own (<c>dotnet.*</c>) are left out.</param>
    /// <param name="onError">Errors librdkafka reports outside any call (fatal ones with <see cref="Error.IsFatal"/>), where reports are served.</param>
    /// <param name="onLog">librdkafka's log lines: level, facility, text; on librdkafka's threads.</param>
    /// <exception cref="ConfigException">librdkafka refused a property or their combination.</exception>
    public RdKafkaProducer(IEnumerable<KeyValuePair<string, string>> settings, Action<Error> onError, Action<SyslogLevel, string, string> onLog)
    {
        _onError = onError;
        _onLog = onLog;
        var self = GCHandle.Alloc(this);
        var conf = rd_kafka_conf_new();
        var errstr = stackalloc byte[ErrorTextSize];
        IntPtr rk;
        try
        {
            foreach (var (key, value) in settings)
            {
                if (key.StartsWith("dotnet.", StringComparison.Ordinal))
                    continue;
                if (rd_kafka_conf_set(conf, key, value, errstr, ErrorTextSize) != 0)
                    throw new ConfigException($"the Kafka producer setting {key} = \"{value}\" was refused by librdkafka: {Text(errstr)}; correct or remove it in [kafka.properties]");
            }

            rd_kafka_conf_set_opaque(conf, GCHandle.ToIntPtr(self));
            rd_kafka_conf_set_dr_msg_cb(conf, &OnDelivery);
            rd_kafka_conf_set_error_cb(conf, &OnError);
            rd_kafka_conf_set_log_cb(conf, &OnLog);
            // On success librdkafka owns the configuration.
            rk = rd_kafka_new(ProducerType, conf, errstr, ErrorTextSize);
            if (rk == IntPtr.Zero)
                throw new ConfigException($"librdkafka refused the Kafka producer's settings: {Text(errstr)}; correct [kafka.properties]");
        }
        catch
        {
            rd_kafka_conf_destroy(conf);
            self.Free();
            throw;
        }

        _rk = new RdKafkaHandle(rk, self);
        // Delivery reports and errors are served by polling; librdkafka's own threads do the rest.
        _poller = new Thread(Poll) { IsBackground = true, Name = "kafka-delivery" };
        _poller.Start();
    }

    /// <summary>The rd_kafka_t, for tests that inject faults into it.</summary>
    internal IntPtr NativeHandle => _rk.DangerousGetHandle();

    /// <summary>
    /// Hands a message to librdkafka, which copies key, value and headers before returning.
    /// <paramref name="handler"/> is told of its delivery once.
    /// </summary>
    /// <returns>False when librdkafka's queue is full: call again once it has room.</returns>
    /// <exception cref="ProduceException{TKey,TValue}">librdkafka refused the message for another reason (e.g. larger than message.max.bytes).</exception>
    // Runs per change: compiled optimized at its first call, not after seconds of tier 0 (see EventPump).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool TryProduce(string topic, byte[]? key, byte[]? value, KafkaHeaders? headers, IDeliveryHandler? handler)
    {
        var rkt = Topic(topic);
        var headerCount = headers?.Count ?? 0;
        var headerBytes = headers?.ValueBytes ?? 0;
        // Header values are copied next to each other into memory that does not move, so nothing is pinned one by one.
        byte[]? rented = null;
        var values = headerBytes <= StackHeaderBytes ? stackalloc byte[StackHeaderBytes] : (rented = ArrayPool<byte>.Shared.Rent(headerBytes));
        var opaque = handler is null ? default : GCHandle.Alloc(handler);
        var produced = false;
        try
        {
            var vus = stackalloc Vu[5 + headerCount];
            fixed (byte* k = key, v = value, h = values)
            {
                var count = 0;
                vus[count++] = new Vu { Type = VType.Rkt, First = rkt };
                vus[count++] = new Vu { Type = VType.MsgFlags, First = MsgFlagCopy };
                // A null pointer would make an empty array a null; any valid address with length 0 keeps it empty.
                if (key is not null)
                    vus[count++] = new Vu { Type = VType.Key, First = (nint)(k == null ? h : k), Second = key.Length };
                if (value is not null)
                    vus[count++] = new Vu { Type = VType.Value, First = (nint)(v == null ? h : v), Second = value.Length };
                if (opaque.IsAllocated)
                    vus[count++] = new Vu { Type = VType.Opaque, First = GCHandle.ToIntPtr(opaque) };
                var offset = 0;
                for (var i = 0; i < headerCount; i++)
                {
                    var bytes = headers!.Value(i);
                    var at = h + offset;
                    bytes.CopyTo(values[offset..]);
                    offset += bytes.Length;
                    vus[count++] = new Vu { Type = VType.Header, First = HeaderName(headers.Name(i)), Second = headers.IsNull(i) ? 0 : (nint)at, Third = bytes.Length };
                }

                var error = rd_kafka_produceva(_rk, vus, (nuint)count);
                if (error == IntPtr.Zero)
                {
                    produced = true;
                    if (++_producedSinceServe >= ServeEvery || Stopwatch.GetTimestamp() - Volatile.Read(ref _producerServedAt) >= ServeIntervalTicks)
                        ServeDeliveries();
                    return true;
                }

                var code = (ErrorCode)rd_kafka_error_code(error);
                var reason = Text(rd_kafka_error_string(error));
                rd_kafka_error_destroy(error);
                if (code == ErrorCode.Local_QueueFull)
                {
                    // Room comes from delivered messages: serve their reports while waiting for it.
                    ServeDeliveries();
                    return false;
                }
                throw new ProduceException<byte[]?, byte[]?>(new Error(code, reason), new DeliveryResult<byte[]?, byte[]?> { Topic = topic });
            }
        }
        finally
        {
            if (!produced && opaque.IsAllocated)
                opaque.Free();
            if (rented is not null)
                ArrayPool<byte>.Shared.Return(rented);
        }
    }

    public void InitTransactions(TimeSpan timeout) => Check(rd_kafka_init_transactions(_rk, Milliseconds(timeout)));

    public void BeginTransaction() => Check(rd_kafka_begin_transaction(_rk));

    public void CommitTransaction(TimeSpan timeout) => Check(rd_kafka_commit_transaction(_rk, Milliseconds(timeout)));

    public void AbortTransaction(TimeSpan timeout) => Check(rd_kafka_abort_transaction(_rk, Milliseconds(timeout)));

    /// <summary>
    /// Stops delivery reports, drops what is still queued or in flight (its handlers are never called) and
    /// destroys the client once no call is inside it any more.
    /// </summary>
    public void Dispose()
    {
        if (_stopping)
            return;
        // From here no handler is called: the session that owns them is being torn down.
        _stopping = true;
        _producerIdle.Set();
        _poller.Join();
        try
        {
            // Purged messages report at the next poll: that frees their handlers' GC handles.
            rd_kafka_purge(_rk, PurgeQueue | PurgeInFlight);
            rd_kafka_poll(_rk, 0);
        }
        catch (ObjectDisposedException)
        {
        }

        _rk.Dispose();
    }

    private IntPtr Topic(string topic)
    {
        if (_rk.Topics.TryGetValue(topic, out var rkt))
            return rkt;
        rkt = rd_kafka_topic_new(_rk, topic, IntPtr.Zero);
        if (rkt == IntPtr.Zero)
            throw new KafkaException(new Error(ErrorCode.Local_InvalidArg, $"librdkafka could not create a handle for topic {topic}"));
        if (!_rk.Topics.TryAdd(topic, rkt))
        {
            // Another thread added it first: librdkafka counted our reference; give it back.
            rd_kafka_topic_destroy(rkt);
            return _rk.Topics[topic];
        }

        return rkt;
    }

    // Not GetOrAdd: under a race it discards one factory result, and that native copy would leak.
    private IntPtr HeaderName(string name)
    {
        if (_rk.HeaderNames.TryGetValue(name, out var native))
            return native;
        native = Marshal.StringToCoTaskMemUTF8(name);
        if (_rk.HeaderNames.TryAdd(name, native))
            return native;
        Marshal.FreeCoTaskMem(native);
        return _rk.HeaderNames[name];
    }

    private static int Milliseconds(TimeSpan timeout) =>
        timeout < TimeSpan.Zero ? -1 : (int)Math.Min(int.MaxValue, timeout.TotalMilliseconds);

    /// <summary>Throws the Confluent.Kafka exception a transactional call's error maps to, as its producer does.</summary>
    private static void Check(IntPtr error)
    {
        if (error == IntPtr.Zero)
            return;
        try
        {
            var failure = new Error((ErrorCode)rd_kafka_error_code(error), Text(rd_kafka_error_string(error)), rd_kafka_error_is_fatal(error) != 0);
            if (rd_kafka_error_txn_requires_abort(error) != 0)
                throw new KafkaTxnRequiresAbortException(failure);
            if (rd_kafka_error_is_retriable(error) != 0)
                throw new KafkaRetriableException(failure);
            throw new KafkaException(failure);
        }
        finally
        {
            rd_kafka_error_destroy(error);
        }
    }
}
