using Confluent.Kafka;
using PgReplicateKafka.Events;
using PgReplicateKafka.Metrics;

namespace PgReplicateKafka.Pipeline;

/// <summary>
/// Tracks transactions in commit order and the Kafka acknowledgements of their events. A
/// transaction's end LSN becomes confirmable only when it and every transaction before it are fully
/// acknowledged, so the confirmed LSN never passes an undelivered change and never goes backwards.
/// </summary>
public sealed class DeliveryTracker(ReplicatorMetrics metrics, InFlightBudget? budget = null)
{
    private readonly Lock _gate = new();
    private readonly Queue<PendingTransaction> _pending = new();
    private ulong _confirmedLsn;
    private long _confirmedCommits;
    private long _inFlightEvents;
    private Exception? _failure;

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

    internal void EventAdded() => Interlocked.Increment(ref _inFlightEvents);

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

    internal void Advance()
    {
        lock (_gate)
        {
            if (_failure is not null)
                return;
            while (_pending.TryPeek(out var head) && (head.IsComplete || head.IsAbandoned))
            {
                _pending.Dequeue();
                if (head.IsAbandoned)
                    continue;
                _confirmedLsn = Math.Max(_confirmedLsn, head.Transaction.EndLsn);
                _confirmedCommits++;
                Metrics.TransactionAcknowledged();
            }
        }
    }
}

/// <summary>One transaction's outstanding events.</summary>
public sealed class PendingTransaction
{
    private readonly DeliveryTracker _tracker;

    private readonly Lock _bytesGate = new();
    private long _unackedBytes;
    private int _unackedEvents;

    // Outstanding events plus one for "not yet committed": reaches zero exactly once, when the
    // commit has been seen and every event is acknowledged, whichever comes last.
    private int _outstanding = 1;

    internal PendingTransaction(DeliveryTracker tracker, SourceTransaction transaction)
    {
        _tracker = tracker;
        Transaction = transaction;
        OnDelivery = Delivered;
    }

    public SourceTransaction Transaction { get; }

    /// <summary>The delivery callback for every event of this transaction (one delegate per transaction, not per event).</summary>
    public Action<DeliveryReport<byte[]?, byte[]?>> OnDelivery { get; }

    internal bool IsComplete => Volatile.Read(ref _outstanding) == 0;

    internal bool IsAbandoned { get; private set; }

    /// <summary>Call before producing each event of <paramref name="bytes"/> bytes.</summary>
    public void AddEvent(long bytes)
    {
        Interlocked.Increment(ref _outstanding);
        lock (_bytesGate)
        {
            _unackedBytes += bytes;
            _unackedEvents++;
        }

        _tracker.EventAdded();
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

    /// <summary>An event that was counted but deliberately not produced (e.g. an oversized row skipped).</summary>
    public void Skip(long bytes)
    {
        lock (_bytesGate)
        {
            _unackedBytes -= bytes;
            _unackedEvents--;
        }

        _tracker.EventDelivered(bytes);
        Release();
    }

    /// <summary>For events that could not be produced at all.</summary>
    public void Fail(Exception failure) => _tracker.Fail(failure);

    private void Delivered(DeliveryReport<byte[]?, byte[]?> report)
    {
        // Delivery reports carry only the status (cheaper), not the message: release this event's
        // share of the transaction's unacknowledged bytes; the last acknowledgement releases the rest.
        long bytes;
        lock (_bytesGate)
        {
            bytes = _unackedEvents == 0 ? 0 : _unackedBytes / _unackedEvents;
            _unackedBytes -= bytes;
            _unackedEvents--;
        }

        _tracker.EventDelivered(bytes);
        if (report.Error.IsError)
        {
            _tracker.Metrics.EventFailed((int)bytes);
            _tracker.Fail(new KafkaFailureException(
                $"Kafka did not acknowledge an event for topic {report.Topic} (transaction {Transaction.Xid}): {report.Error.Reason}. " +
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
