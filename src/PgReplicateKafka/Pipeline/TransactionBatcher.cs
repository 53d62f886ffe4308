using System.Diagnostics;
using Microsoft.Extensions.Logging;
using NpgsqlTypes;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Sink;

namespace PgReplicateKafka.Pipeline;

/// <summary>
/// Exactly-once: groups whole PostgreSQL transactions into one Kafka transaction, closed after
/// transaction_max_events or transaction_max_ms at a PostgreSQL commit (never inside one), and ends
/// each with a checkpoint record. Only a committed Kafka transaction releases its PostgreSQL
/// transactions for confirmation.
/// </summary>
public sealed class TransactionBatcher(ReplicatorConfig config, KafkaSink sink, CheckpointStore checkpoints, InFlightBudget budget, ILogger logger)
{
    private static readonly TimeSpan CommitTimeout = TimeSpan.FromSeconds(60);

    private readonly List<PendingTransaction> _committed = [];
    private readonly Lock _bytesGate = new();
    private long _unackedBytes;
    private int _unackedEvents;
    private readonly Stopwatch _age = new();
    private bool _initialized;
    private bool _open;
    private int _events;

    /// <summary>Time left before the open batch is due, or null when nothing waits to be committed.</summary>
    public TimeSpan? DueIn => _committed.Count == 0 ? null : config.Replication.TransactionMaxDuration - _age.Elapsed;

    /// <summary>Every PostgreSQL transaction waits for the Kafka commit of its batch before it can be confirmed.</summary>
    public void Hold(PendingTransaction transaction) => transaction.Hold();

    /// <summary>Call before producing an event: opens a Kafka transaction when none is open.</summary>
    public void BeforeProduce()
    {
        if (_open)
            return;
        if (!_initialized)
        {
            // Only now that the slot is ours: a standby must not fence the active instance.
            sink.InitTransactions(CommitTimeout);
            _initialized = true;
        }

        sink.BeginTransaction();
        _open = true;
        if (_committed.Count == 0)
            _age.Restart();
    }

    /// <summary>
    /// Per-message acknowledgement: frees the event's memory. Only the Kafka commit makes it count
    /// as delivered, but a PostgreSQL transaction larger than the in-flight budget must not wait for
    /// that commit to get room (its commit could never arrive).
    /// </summary>
    public Action<Confluent.Kafka.DeliveryReport<byte[]?, byte[]?>> OnDelivery => _onDelivery ??= Delivered;

    /// <summary>Call just before producing an event of <paramref name="bytes"/> bytes.</summary>
    public void Produced(long bytes)
    {
        _events++;
        lock (_bytesGate)
        {
            _unackedBytes += bytes;
            _unackedEvents++;
        }
    }

    /// <summary>An event counted by <see cref="Produced"/> that librdkafka refused: release it here, no report will come.</summary>
    public void Unproduced(long bytes)
    {
        _events--;
        lock (_bytesGate)
        {
            _unackedBytes -= bytes;
            _unackedEvents--;
        }

        budget.Release(bytes);
    }

    private Action<Confluent.Kafka.DeliveryReport<byte[]?, byte[]?>>? _onDelivery;

    // Reports carry only the status: release an even share, the last one the remainder. Aborted
    // messages are reported too (purged), so every produced byte is released once.
    private void Delivered(Confluent.Kafka.DeliveryReport<byte[]?, byte[]?> report)
    {
        long share;
        lock (_bytesGate)
        {
            share = _unackedEvents == 0 ? 0 : _unackedBytes / _unackedEvents;
            _unackedBytes -= share;
            _unackedEvents--;
        }

        budget.Release(share);
    }

    /// <summary>A PostgreSQL transaction is complete in the open batch; commits the batch when it is due.</summary>
    public void TransactionCommitted(PendingTransaction transaction)
    {
        if (_committed.Count == 0 && !_open)
            _age.Restart();
        _committed.Add(transaction);
        if (_events >= config.Replication.TransactionMaxEvents || _age.Elapsed >= config.Replication.TransactionMaxDuration)
            Commit();
    }

    /// <summary>Commits the batch if transaction_max_ms has passed (called when the stream is quiet).</summary>
    public void CommitIfDue()
    {
        if (_committed.Count > 0 && _age.Elapsed >= config.Replication.TransactionMaxDuration)
            Commit();
    }

    /// <summary>Commits every complete PostgreSQL transaction of the batch, with the checkpoint of the last.</summary>
    public void Commit()
    {
        if (_committed.Count == 0)
            return;
        if (_open)
        {
            var lsn = _committed[^1].Transaction.EndLsn;
            try
            {
                ProduceCheckpoint(lsn);
                sink.CommitTransaction(CommitTimeout);
                _abortsInARow = 0;
            }
            catch (Confluent.Kafka.ProduceException<byte[]?, byte[]?> e) when (sink.Fatal is null)
            {
                Abort();
                throw Aborted(new KafkaTransactionAbortedException(e.Error.Reason, e));
            }
            catch (KafkaTransactionAbortedException e)
            {
                Reset(abandon: true);
                throw Aborted(e);
            }

            logger.LogDebug("Committed a Kafka transaction of {Count} PostgreSQL transactions up to {Lsn}", _committed.Count, new NpgsqlLogSequenceNumber(lsn));
        }

        foreach (var transaction in _committed)
            transaction.ReleaseHold();
        Reset(abandon: false);
    }

    private const int MaxAbortsInARow = 5;
    private int _abortsInARow;

    /// <summary>
    /// A transaction aborted again and again without a commit in between is refused by the brokers
    /// for good (e.g. a record over the topic's max.message.bytes, or no write permission on a topic):
    /// streaming it again would loop forever, so stop with exit code 4.
    /// </summary>
    private Exception Aborted(KafkaTransactionAbortedException e) =>
        ++_abortsInARow < MaxAbortsInARow
            ? e
            : new KafkaFailureException(
                $"Kafka aborted {_abortsInARow} transactions in a row, the last because of: {e.Message}. Check that every topic accepts " +
                "the events (write permission, the topic's max.message.bytes, cleanup.policy)", e);

    private void ProduceCheckpoint(ulong lsn)
    {
        var message = new Confluent.Kafka.Message<byte[]?, byte[]?> { Key = checkpoints.Key, Value = checkpoints.Record(lsn) };
        while (true)
        {
            try
            {
                sink.Producer.Produce(checkpoints.Topic, message);
                return;
            }
            catch (Confluent.Kafka.ProduceException<byte[]?, byte[]?> e) when (e.Error.Code == Confluent.Kafka.ErrorCode.Local_QueueFull)
            {
                Thread.Sleep(2); // the batch's own events fill the queue; they drain within milliseconds
            }
        }
    }

    /// <summary>Aborts the open Kafka transaction (the stream ended inside a PostgreSQL transaction, or failed).</summary>
    public void Abort()
    {
        if (_open && sink.Fatal is null)
        {
            try
            {
                sink.AbortTransaction(CommitTimeout);
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
