using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace PgReplicateKafka.Sink.Librdkafka;

/// <summary>
/// An rd_kafka_t and what lives as long as it: every call holds a reference, so the client, its topic
/// handles, the header names handed to it and the callbacks' target are freed only after the last call
/// returned, even when another thread disposes it meanwhile.
/// </summary>
internal sealed class RdKafkaHandle : SafeHandle
{
    private readonly GCHandle _callbackTarget;

    public RdKafkaHandle()
        : base(IntPtr.Zero, ownsHandle: true)
    {
    }

    public RdKafkaHandle(IntPtr rk, GCHandle callbackTarget)
        : base(IntPtr.Zero, ownsHandle: true)
    {
        SetHandle(rk);
        _callbackTarget = callbackTarget;
    }

    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <summary>rd_kafka_topic_t per topic name: a handle spares librdkafka a lookup by name per message.</summary>
    public ConcurrentDictionary<string, IntPtr> Topics { get; } = new();

    /// <summary>Header names as NUL-terminated UTF-8, the form rd_kafka_produceva takes them in.</summary>
    public ConcurrentDictionary<string, IntPtr> HeaderNames { get; } = new();

    protected override bool ReleaseHandle()
    {
        foreach (var topic in Topics.Values)
            LibRdKafka.rd_kafka_topic_destroy(topic);
        LibRdKafka.rd_kafka_destroy(handle);
        foreach (var name in HeaderNames.Values)
            Marshal.FreeCoTaskMem(name);
        if (_callbackTarget.IsAllocated)
            _callbackTarget.Free();
        return true;
    }
}
