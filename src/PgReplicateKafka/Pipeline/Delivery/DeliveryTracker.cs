using PgReplicateKafka.Events;
using PgReplicateKafka.Metrics;

namespace PgReplicateKafka.Pipeline.Delivery;

/// <summary>
/// Tracks transactions in commit order and the Kafka acknowledgements of their events. A
/// transaction's end LSN becomes confirmable only when it and every transaction before it are fully
/// acknowledged, so the confirmed LSN never passes an undelivered change and never goes backwards.
/// </summary>
/// <param name="budget">The producer's share of the in-flight budget: what it was handed, until reported.</param>
public sealed class DeliveryTracker(ReplicatorMetrics metrics, InFlightBudget? budget = null)
{
    private readonly Lock _gate = new();
    private readonly Queue<PendingTransaction> _pending = new();
    private ulong _confirmedLsn;
    private long _confirmedCommits;
    private long _inFlightEvents;
    private Exception? _failure;

    // Completed when the confirmed position next moves; created only while someone waits for it.
    private TaskCompletionSource? _advanced;

    internal ReplicatorMetrics Metrics { get; } = metrics;

    /// <summary>End LSN of the last transaction that is delivered with all before it.</summary>
    public ulong ConfirmedLsn
    {
        get { lock (_gate) return _confirmedLsn; }
    }

    /// <summary>How many transactions are delivered with all before them.</summary>
    public long ConfirmedCommits
    {
        get { lock (_gate) return _confirmedCommits; }
    }

    public long InFlightEvents => Interlocked.Read(ref _inFlightEvents);

    /// <summary>No transaction is waiting for acknowledgements.</summary>
    public bool IsIdle
    {
        get { lock (_gate) return _pending.Count == 0; }
    }

    /// <summary>The first delivery error; once set, nothing more is confirmed.</summary>
    public Exception? Failure
    {
        get { lock (_gate) return _failure; }
    }

    public PendingTransaction Begin(SourceTransaction transaction)
    {
        var pending = new PendingTransaction(this, transaction);
        lock (_gate)
            _pending.Enqueue(pending);
        return pending;
    }

    internal void EventAdded(long bytes)
    {
        Interlocked.Increment(ref _inFlightEvents);
        budget?.Add(bytes);
    }

    internal void EventDelivered(long bytes)
    {
        Interlocked.Decrement(ref _inFlightEvents);
        budget?.Release(bytes);
    }

    internal void Fail(Exception failure)
    {
        lock (_gate)
            _failure ??= failure;
    }

    /// <summary>Completes the next time <see cref="ConfirmedLsn"/> moves (or at once, once it moved since the call began).</summary>
    public Task AdvancedAsync()
    {
        lock (_gate)
            return (_advanced ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
    }

    internal void Advance()
    {
        lock (_gate)
        {
            if (_failure is not null)
                return;
            var moved = false;
            while (_pending.TryPeek(out var head) && (head.IsComplete || head.IsAbandoned))
            {
                _pending.Dequeue();
                if (head.IsAbandoned)
                    continue;
                _confirmedLsn = Math.Max(_confirmedLsn, head.Transaction.EndLsn);
                _confirmedCommits++;
                Metrics.TransactionAcknowledged();
                moved = true;
            }

            if (moved && _advanced is { } advanced)
            {
                _advanced = null;
                advanced.TrySetResult();
            }
        }
    }
}
