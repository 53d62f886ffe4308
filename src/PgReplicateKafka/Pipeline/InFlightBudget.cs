using PgReplicateKafka.Source;

namespace PgReplicateKafka.Pipeline;

/// <summary>
/// Bounds the bytes between the replication stream and Kafka's acknowledgement. Only the receive
/// loop waits (so PostgreSQL is read no faster than Kafka takes it); everything else just adds and
/// releases, which keeps it free of deadlocks. One event may overshoot the limit, so a row larger
/// than the limit still passes.
/// </summary>
public sealed class InFlightBudget(long limit) : IBackpressure
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

    /// <summary>
    /// A new session starts with nothing of its own in flight; events a cancelled session dropped
    /// unserialized would otherwise hold their bytes forever. Late releases from an earlier
    /// session's producer can push the count below zero, which only grants that much extra room.
    /// </summary>
    public void Reset() => Release(Interlocked.Read(ref _bytes));

    public void Release(long bytes)
    {
        if (Interlocked.Add(ref _bytes, -bytes) < limit && Interlocked.Exchange(ref _waiting, 0) == 1)
            Interlocked.Exchange(ref _roomFreed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }
}
