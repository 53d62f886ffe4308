using System.Diagnostics;
using System.Runtime.CompilerServices;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Events;
using PgReplicateKafka.Sink;
using PgReplicateKafka.Source;

namespace PgReplicateKafka.Pipeline.Delivery;

/// <summary>
/// Exactly-once: groups whole PostgreSQL transactions into one Kafka transaction, closed after
/// transaction_max_events or transaction_max_ms at a PostgreSQL commit (never inside one), and ends
/// each with a checkpoint record. Only a committed Kafka transaction releases its PostgreSQL
/// transactions for confirmation.
/// </summary>
/// <param name="budget">The producer's share of the in-flight budget (as the tracker's).</param>
/// <param name="readCheckpoint">Reads the last committed checkpoint (the store's by default; tests replace it).</param>
/// <param name="progress">The run's progress, which counts aborts across producers (each abort ends its producer's session).</param>
public sealed class ExactlyOnceDelivery(
    ReplicatorConfig config, IEventProducer producer, CheckpointStore checkpoints, DeliveryTracker tracker, InFlightBudget budget, ILogger logger,
    Func<TimeSpan, Checkpoint?>? readCheckpoint = null, StreamProgress? progress = null)
    : IDeliveryMode
{
    private static readonly TimeSpan CommitTimeout = TimeSpan.FromSeconds(60);
    private const int MaxAbortsInARow = 5;

    private readonly List<PendingTransaction> _committed = [];
    private readonly AckLedger _ledger = new();
    private readonly Stopwatch _age = new();
    private DeliveryCallback? _onDelivery;
    private bool _open;
    private int _events;
    private readonly StreamProgress _progress = progress ?? new StreamProgress();
    private uint _timeline;
    private ulong _slotOrigin;

    public TimeSpan? DueIn => _committed.Count == 0 ? null : config.Replication.TransactionMaxDuration - _age.Elapsed;

    public void Idle() => producer.Idle();

    /// <summary>
    /// The transactional.id is registered: once the slot is let go, whoever holds it next fences this
    /// producer and may commit past what this process knows, so no later session may use it.
    /// </summary>
    public bool Initialized { get; private set; }

    /// <summary>
    /// Called once the slot is ours, before streaming, by the one session of this producer that gets so
    /// far: registers the transactional.id (fencing an earlier instance and aborting what it left open,
    /// so nothing can commit after the read), then reads what Kafka holds. Returns the checkpoint's LSN
    /// to start after, or null to start from the slot.
    /// </summary>
    /// <param name="slotPosition">The slot's confirmed position, or its consistent point when <paramref name="slotCreated"/>.</param>
    /// <param name="slotCreated">Created just now: no checkpoint can be of it.</param>
    public ulong? Resume(ClusterIdentity cluster, ulong slotPosition, bool slotCreated)
    {
        if (cluster.SystemId != checkpoints.SystemId)
        {
            throw new PostgresSetupException(
                $"the server is PostgreSQL cluster {cluster.SystemId}, not cluster {checkpoints.SystemId} that this run started with " +
                "(a failover to a rebuilt server?): restart pg-replicate-kafka to stream from it");
        }

        _timeline = cluster.Timeline;
        producer.InitTransactions(CommitTimeout);
        Initialized = true;
        // The slot's creation point is not in pg_replication_slots: a chain of checkpoints carries the
        // position its slot was first seen at, the consistent point when we created it.
        _slotOrigin = slotPosition;
        if (slotCreated || (readCheckpoint ?? checkpoints.ReadLast)(config.Kafka.ConnectTimeout) is not { } checkpoint)
            return null;
        if (CheckpointRule.Rejection(checkpoint, cluster, slotPosition) is { } reason)
        {
            logger.LogWarning("Ignoring the checkpoint in {Topic} at {Lsn}: {Reason}; streaming from the slot's position {Slot}",
                checkpoints.Topic, Lsn.Format(checkpoint.Lsn), reason, Lsn.Format(slotPosition));
            return null;
        }

        _slotOrigin = checkpoint.SlotOrigin;
        return checkpoint.Lsn;
    }

    /// <summary>Every PostgreSQL transaction waits for the Kafka commit of its batch before it can be confirmed.</summary>
    public PendingTransaction Begin(SourceTransaction transaction)
    {
        var pending = tracker.Begin(transaction);
        pending.Hold();
        return pending;
    }

    // Runs per change: compiled optimized at its first call, and synchronous unless the producer's queue is full (see EventPump).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ValueTask ProduceAsync(PendingTransaction transaction, string topic, byte[]? key, byte[]? value, KafkaHeaders? headers, long size, CancellationToken ct)
    {
        BeginIfNeeded();
        _events++;
        _ledger.Add(size);
        budget.Add(size);
        ValueTask producing;
        try
        {
            producing = producer.ProduceAsync(topic, key, value, headers, _onDelivery ??= new DeliveryCallback(Delivered), ct);
        }
        catch (Exception e)
        {
            if (Unproduced(e, size) is { } aborted)
                throw aborted;
            throw;
        }

        return producing.IsCompletedSuccessfully ? default : AwaitProducedAsync(producing, size);
    }

    private async ValueTask AwaitProducedAsync(ValueTask producing, long size)
    {
        try
        {
            await producing;
        }
        catch (Exception e)
        {
            if (Unproduced(e, size) is { } aborted)
                throw aborted;
            throw;
        }
    }

    /// <summary>
    /// The event was not produced (refused, or the wait for queue room cancelled): no report will come for it.
    /// Returns the exception to throw instead of <paramref name="e"/>, if any.
    /// </summary>
    private Exception? Unproduced(Exception e, long size)
    {
        _events--;
        _ledger.Remove(size);
        budget.Release(size);
        // An earlier event of the Kafka transaction failed, so it can only be aborted (by EndAsync);
        // its PostgreSQL transactions are streamed again from the last commit.
        if (e is ProduceException<byte[]?, byte[]?> { Error.Code: ErrorCode.Local_State } refused && producer.Fatal is null)
            return Aborted(new KafkaTransactionAbortedException(refused.Error.Reason, refused));
        return null;
    }

    public ValueTask CommittedAsync(PendingTransaction transaction, CancellationToken ct)
    {
        transaction.Commit(); // still held until the Kafka transaction commits
        if (_committed.Count == 0 && !_open)
            _age.Restart();
        _committed.Add(transaction);
        return _events >= config.Replication.TransactionMaxEvents || _age.Elapsed >= config.Replication.TransactionMaxDuration
            ? CommitAsync(ct)
            : ValueTask.CompletedTask;
    }

    public ValueTask RunDueAsync(CancellationToken ct) =>
        _committed.Count > 0 && _age.Elapsed >= config.Replication.TransactionMaxDuration ? CommitAsync(ct) : ValueTask.CompletedTask;

    public ValueTask EndAsync(bool betweenTransactions)
    {
        if (betweenTransactions)
            return CommitAsync(CancellationToken.None);
        Abort();
        return ValueTask.CompletedTask;
    }

    private void BeginIfNeeded()
    {
        if (_open)
            return;
        producer.BeginTransaction();
        _open = true;
        if (_committed.Count == 0)
            _age.Restart();
    }

    // Per-message acknowledgement frees the event's memory. Only the Kafka commit makes it count as
    // delivered, but a PostgreSQL transaction larger than the in-flight budget must not wait for that
    // commit to get room (its commit could never arrive). Aborted messages are reported too (purged).
    private void Delivered(DeliveryFailure? failure) => budget.Release(_ledger.Acknowledge());

    /// <summary>Commits every complete PostgreSQL transaction of the batch, with the checkpoint of the last.</summary>
    private async ValueTask CommitAsync(CancellationToken ct)
    {
        if (_committed.Count == 0)
            return;
        if (_open)
        {
            var lsn = _committed[^1].Transaction.EndLsn;
            try
            {
                await producer.ProduceAsync(checkpoints.Topic, checkpoints.Key, checkpoints.Record(new Checkpoint(checkpoints.SystemId, _timeline, _slotOrigin, lsn)), null, null, ct);
                producer.CommitTransaction(CommitTimeout);
                _progress.KafkaAbortsInARow = 0;
            }
            catch (ProduceException<byte[]?, byte[]?> e) when (producer.Fatal is null)
            {
                Abort();
                throw Aborted(new KafkaTransactionAbortedException(e.Error.Reason, e));
            }
            catch (KafkaTransactionAbortedException e)
            {
                Reset(abandon: true);
                throw Aborted(e);
            }

            logger.LogDebug("Committed a Kafka transaction of {Count} PostgreSQL transactions up to {Lsn}", _committed.Count, Lsn.Format(lsn));
        }

        foreach (var transaction in _committed)
            transaction.ReleaseHold();
        Reset(abandon: false);
    }

    /// <summary>
    /// A transaction aborted again and again without a commit in between is refused by the brokers
    /// for good (e.g. a record over the topic's max.message.bytes, or no write permission on a topic):
    /// streaming it again would loop forever, so stop with exit code 4.
    /// </summary>
    private Exception Aborted(KafkaTransactionAbortedException e) =>
        ++_progress.KafkaAbortsInARow < MaxAbortsInARow
            ? e
            : new KafkaFailureException(
                $"Kafka aborted {_progress.KafkaAbortsInARow} transactions in a row, the last because of: {e.Message}. Check that every topic accepts " +
                "the events (write permission, the topic's max.message.bytes, cleanup.policy)", e);

    /// <summary>Aborts the open Kafka transaction (the stream ended inside a PostgreSQL transaction, or failed).</summary>
    private void Abort()
    {
        if (_open && producer.Fatal is null)
        {
            try
            {
                producer.AbortTransaction(CommitTimeout);
            }
            catch (KafkaFailureException e)
            {
                logger.LogWarning("Could not abort the Kafka transaction: {Reason}", e.Message);
            }
        }

        Reset(abandon: true);
    }

    private void Reset(bool abandon)
    {
        if (abandon)
        {
            foreach (var transaction in _committed)
                transaction.Abandon();
        }

        _committed.Clear();
        _open = false;
        _events = 0;
    }
}
