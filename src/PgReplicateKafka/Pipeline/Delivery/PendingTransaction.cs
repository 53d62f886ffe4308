using System.Runtime.CompilerServices;
using PgReplicateKafka.Events;
using PgReplicateKafka.Sink;

namespace PgReplicateKafka.Pipeline.Delivery;

/// <summary>One transaction's outstanding events.</summary>
public sealed class PendingTransaction : IDeliveryHandler
{
    private readonly DeliveryTracker _tracker;

    private readonly AckLedger _ledger = new();

    // Outstanding events plus one for "not yet committed": reaches zero exactly once, when the
    // commit has been seen and every event is acknowledged, whichever comes last.
    private int _outstanding = 1;

    internal PendingTransaction(DeliveryTracker tracker, SourceTransaction transaction)
    {
        _tracker = tracker;
        Transaction = transaction;
    }

    public SourceTransaction Transaction { get; }

    /// <summary>Told of the delivery of every event of this transaction (one handler per transaction, not per event).</summary>
    public IDeliveryHandler OnDelivery => this;

    internal bool IsComplete => Volatile.Read(ref _outstanding) == 0;

    internal bool IsAbandoned { get; private set; }

    /// <summary>Call before producing each event of <paramref name="bytes"/> bytes.</summary>
    // Runs per change: compiled optimized at its first call, not after seconds of tier 0 (see EventPump).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void AddEvent(long bytes)
    {
        Interlocked.Increment(ref _outstanding);
        _ledger.Add(bytes);
        _tracker.EventAdded(bytes);
    }

    /// <summary>Call once the transaction's commit has been seen (its end LSN is set).</summary>
    public void Commit() => Release();

    /// <summary>
    /// The connection was lost before the commit arrived: PostgreSQL will resend the whole
    /// transaction, so this partial one must neither confirm anything nor block the ones after it.
    /// </summary>
    public void Abandon()
    {
        IsAbandoned = true;
        _tracker.Advance();
    }

    /// <summary>Exactly-once: hold confirmation until the Kafka transaction holding this one commits.</summary>
    public void Hold() => Interlocked.Increment(ref _outstanding);

    /// <summary>The Kafka transaction holding this one committed.</summary>
    public void ReleaseHold() => Release();

    /// <summary>An event counted by <see cref="AddEvent"/> that was not produced after all (refused, e.g. oversized, or its wait cancelled): no report will come.</summary>
    public void Unproduced(long bytes)
    {
        _ledger.Remove(bytes);
        _tracker.EventDelivered(bytes);
        Release();
    }

    /// <summary>For events that could not be produced at all.</summary>
    public void Fail(Exception failure) => _tracker.Fail(failure);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void IDeliveryHandler.Delivered(DeliveryFailure? failure)
    {
        var bytes = _ledger.Acknowledge();
        _tracker.EventDelivered(bytes);
        if (failure is not null)
        {
            _tracker.Metrics.EventFailed((int)bytes);
            _tracker.Fail(new KafkaFailureException(
                $"Kafka did not acknowledge an event for topic {failure.Topic} (transaction {Transaction.Xid}): {failure.Error.Reason}. " +
                "Nothing after it is confirmed to PostgreSQL; a restart resends it"));
            return;
        }

        _tracker.Metrics.EventAcknowledged(Transaction.CommitTimestamp, (int)bytes);
        Release();
    }

    private void Release()
    {
        if (Interlocked.Decrement(ref _outstanding) == 0)
            _tracker.Advance();
    }
}
