using PgReplicateKafka.Source;

namespace PgReplicateKafka.Pipeline;

/// <summary>
/// Bounds the bytes between the replication stream and Kafka's acknowledgement. Only the receive
/// loop waits (so PostgreSQL is read no faster than Kafka takes it); everything else just adds and
/// releases, which keeps it free of deadlocks. One event may overshoot the limit, so a row larger
/// than the limit still passes.
/// </summary>
/// <remarks>
/// The bytes are held in shares of one limit (<see cref="Share"/>): each session's received changes,
/// each producer's unacknowledged messages. A share's owner ends it once that memory is gone (the
/// session's pump has stopped, the producer is disposed): what it still holds is released then, and
/// any later release is ignored. So a session that drops changes unserialized frees their bytes, and
/// a late delivery report of a producer still draining never frees room another share holds.
/// </remarks>
public sealed class InFlightBudget : IBackpressure
{
    private const long Ended = long.MinValue;

    private readonly Pool _pool;
    private long _held;

    public InFlightBudget(long limit)
        : this(new Pool(limit))
    {
    }

    private InFlightBudget(Pool pool) => _pool = pool;

    /// <summary>What every share holds together: the bytes the limit bounds.</summary>
    public long Bytes => _pool.Bytes;

    /// <summary>A new share of the same limit, for one session or one producer.</summary>
    public InFlightBudget Share() => new(_pool);

    public ValueTask WaitForRoomAsync(CancellationToken ct) => _pool.WaitForRoomAsync(ct);

    public void Add(long bytes)
    {
        if (Change(bytes))
            _pool.Add(bytes);
    }

    public void Release(long bytes)
    {
        if (Change(-bytes))
            _pool.Release(bytes);
    }

    /// <summary>The memory this share counted is freed: releases what it still holds; later adds and releases do nothing.</summary>
    public void End()
    {
        var held = Interlocked.Exchange(ref _held, Ended);
        if (held != Ended)
            _pool.Release(held);
    }

    private bool Change(long delta)
    {
        // Counted in the share first: a change End has taken (or missed) is then taken (or missed) in the pool too.
        var held = Volatile.Read(ref _held);
        while (held != Ended)
        {
            var seen = Interlocked.CompareExchange(ref _held, held + delta, held);
            if (seen == held)
                return true;
            held = seen;
        }

        return false;
    }

    private sealed class Pool(long limit)
    {
        private long _bytes;
        private int _waiting;
        private TaskCompletionSource _roomFreed = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public long Bytes => Interlocked.Read(ref _bytes);

        public async ValueTask WaitForRoomAsync(CancellationToken ct)
        {
            while (Interlocked.Read(ref _bytes) >= limit)
            {
                // Take the signal before announcing the wait: any release after this point completes
                // this very signal, and one before it is seen by the re-check below.
                var signal = Volatile.Read(ref _roomFreed);
                Interlocked.Exchange(ref _waiting, 1);
                if (Interlocked.Read(ref _bytes) < limit)
                    break;
                await signal.Task.WaitAsync(ct);
            }
        }

        public void Add(long bytes) => Interlocked.Add(ref _bytes, bytes);

        public void Release(long bytes)
        {
            if (Interlocked.Add(ref _bytes, -bytes) < limit && Interlocked.Exchange(ref _waiting, 0) == 1)
                Interlocked.Exchange(ref _roomFreed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
        }
    }
}
