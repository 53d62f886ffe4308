using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Confluent.Kafka;
using static PgReplicateKafka.Sink.Librdkafka.LibRdKafka;

namespace PgReplicateKafka.Sink.Librdkafka;

// Delivery reports and librdkafka's other callbacks: where they are served, and what each does.
internal sealed unsafe partial class RdKafkaProducer
{
    // Delivery reports are served where messages are produced. Serving a report frees librdkafka's copy
    // of the message and of each header, and glibc's allocator takes memory back without a lock only on
    // the thread that allocated it: served on a thread of their own, every malloc and free contended for
    // the producing thread's arena (about a quarter of the producer's CPU in glibc and its lock wake-ups;
    // docs/benchmarks.md, optimisation 14). So the producing thread serves them as it goes, and the
    // delivery thread only once production has paused for a few milliseconds (a producer waiting for
    // room in librdkafka's queue keeps serving while it waits).
    private const int ServeEvery = 32;
    private static readonly long ServeIntervalTicks = Stopwatch.Frequency / 1000;
    private static readonly long ProducerServesTicks = Stopwatch.Frequency / 200;
    private long _producerServedAt;
    private int _producedSinceServe;
    private readonly ManualResetEventSlim _producerIdle = new();

    /// <inheritdoc cref="IEventProducer.Idle"/>
    public void Idle()
    {
        Volatile.Write(ref _producerServedAt, 0);
        _producerIdle.Set();
    }

    /// <summary>Serves the delivery reports that are due, on the calling (producing) thread.</summary>
    private void ServeDeliveries()
    {
        // Several threads may produce (the pump, snapshot progress records): the count is only a cadence.
        _producedSinceServe = 0;
        Volatile.Write(ref _producerServedAt, Stopwatch.GetTimestamp());
        rd_kafka_poll(_rk, 0);
    }

    private void Poll()
    {
        while (!_stopping)
        {
            // Asleep until the producing thread has been quiet for the whole interval, or says it is idle.
            var quiet = Stopwatch.GetTimestamp() - Volatile.Read(ref _producerServedAt);
            if (quiet < ProducerServesTicks)
            {
                _producerIdle.Wait(TimeSpan.FromTicks((ProducerServesTicks - quiet) * TimeSpan.TicksPerSecond / Stopwatch.Frequency + TimeSpan.TicksPerMillisecond));
                _producerIdle.Reset();
            }
            else
            {
                rd_kafka_poll(_rk, 10);
            }
        }
    }

    private static RdKafkaProducer Target(IntPtr opaque) => (RdKafkaProducer)GCHandle.FromIntPtr(opaque).Target!;

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void OnDelivery(IntPtr rk, Message* message, IntPtr opaque)
    {
        if (message->Private == IntPtr.Zero)
            return;
        var handle = GCHandle.FromIntPtr(message->Private);
        var handler = (IDeliveryHandler)handle.Target!;
        handle.Free();
        var self = Target(opaque);
        if (self._stopping)
            return;
        try
        {
            handler.Delivered(message->Err == 0
                ? null
                : new DeliveryFailure(Text(rd_kafka_topic_name(message->Rkt)), new Error((ErrorCode)message->Err, Text(rd_kafka_err2str(message->Err)))));
        }
        catch (Exception e)
        {
            // An exception must not cross into librdkafka: stop the producer instead.
            self.Report(new Error(ErrorCode.Local_Fail, $"a delivery handler failed: {e}", isFatal: true));
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnError(IntPtr rk, int err, byte* reason, IntPtr opaque)
    {
        var self = Target(opaque);
        if (self._stopping)
            return;
        var error = new Error((ErrorCode)err, Text(reason));
        if (err == ErrFatal)
        {
            var errstr = stackalloc byte[ErrorTextSize];
            try
            {
                var code = rd_kafka_fatal_error(self._rk, errstr, ErrorTextSize);
                error = new Error((ErrorCode)code, Text(errstr), isFatal: true);
            }
            catch (ObjectDisposedException)
            {
                return;
            }
        }

        self.Report(error);
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnLog(IntPtr rk, int level, byte* facility, byte* message)
    {
        try
        {
            Target(rd_kafka_opaque(rk))._onLog((SyslogLevel)level, Text(facility), Text(message));
        }
        catch (Exception)
        {
            // A log line is not worth crossing into librdkafka with an exception.
        }
    }

    private void Report(Error error)
    {
        try
        {
            _onError(error);
        }
        catch (Exception)
        {
            // The error handler only logs and records; nothing may cross into librdkafka.
        }
    }
}
