using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Events;
using PgReplicateKafka.Metrics;
using PgReplicateKafka.Pipeline.Delivery;
using PgReplicateKafka.Pipeline.Format;
using PgReplicateKafka.Pipeline.Snapshot;
using PgReplicateKafka.Sink;
using PgReplicateKafka.Source.Snapshot;

namespace PgReplicateKafka.Pipeline;

/// <summary>
/// The work taken off the receive loop: serializes each change to JSON and hands it to the delivery
/// mode, registering every transaction in commit order.
/// </summary>
/// <remarks>
/// Per change the work is synchronous (<see cref="Handle"/>, <see cref="Produce"/>, <see cref="Send"/>), with an
/// async continuation only where a call has to wait. Those methods and the serializers they call are JIT-compiled
/// fully optimized at their first call (<see cref="MethodImplOptions.AggressiveOptimization"/>): under tiered
/// compilation they ran their unoptimized first tier for the first seconds of a stream (about half of the pump's
/// samples in the first 3 s of a bulk run, docs/benchmarks.md, optimisation 15), and an async method's state
/// machine cannot be given that attribute.
/// </remarks>
public sealed class EventPump(
    ReplicatorConfig config, IDeliveryMode delivery, TopicRouter topics, InFlightBudget budget, ReplicatorMetrics metrics, ILogger logger,
    IReadOnlyDictionary<uint, IReadOnlyList<string>>? enumLabels = null,
    SnapshotCoordinator? snapshots = null)
{
    private readonly ChangeMessages _messages = new(config, enumLabels);

    private readonly TransactionMetadata? _transactions =
        config.Format.TransactionTopic is { } topic ? new TransactionMetadata(topic, config.Format.Schemas) : null;

    private long _commitsSeen;

    /// <summary>Transactions whose commit this pump has registered.</summary>
    public long CommitsSeen => Interlocked.Read(ref _commitsSeen);

    // The transaction whose messages are being produced; null between transactions.
    private PendingTransaction? _current;

    public async Task RunAsync(ChannelReader<SourceMessage> reader, CancellationToken ct)
    {
        var betweenTransactions = false;
        try
        {
            while (await WaitToReadAsync(reader, betweenTransactions: _current is null, ct))
            {
                while (reader.TryRead(out var message))
                {
                    if (message is SourceBatch batch)
                    {
                        var messages = batch.Messages;
                        for (var next = 0; next < messages.Count;)
                        {
                            next = HandleUntilWait(messages, next, ct, out var wait);
                            await wait;
                        }
                    }
                    else
                    {
                        await Handle(message, ct);
                    }
                }
            }

            betweenTransactions = _current is null;
        }
        finally
        {
            // The stream ended inside a transaction: PostgreSQL resends it whole after reconnecting.
            _current?.Abandon();
            await delivery.EndAsync(betweenTransactions);
        }
    }

    /// <summary>
    /// Handles <paramref name="messages"/> from <paramref name="next"/> on while none has to wait; returns the index
    /// after the last one handled, and in <paramref name="wait"/> what that one still waits for (or nothing).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int HandleUntilWait(List<SourceMessage> messages, int next, CancellationToken ct, out ValueTask wait)
    {
        while (next < messages.Count)
        {
            var handling = Handle(messages[next++], ct);
            if (!handling.IsCompletedSuccessfully)
            {
                wait = handling;
                return next;
            }
        }

        wait = default;
        return next;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private ValueTask Handle(SourceMessage message, CancellationToken ct)
    {
        if (message is ChangeEvent change)
        {
            var current = Current(change.Transaction);
            snapshots?.Observe(change);
            return Produce(change, current, ct);
        }

        if (message is SnapshotMarker marker && snapshots is not null)
            return HandleSnapshotMarker(marker, snapshots, ct);

        if (message is TransactionCommitted committed)
        {
            var current = Current(committed.Transaction);
            if (_transactions?.IsOpen(committed.Transaction) == true)
                return EndTransactionAsync(current, committed, ct);
            var registering = delivery.CommittedAsync(current, ct);
            if (!registering.IsCompletedSuccessfully)
                return CommittedAsync(registering, committed);
            Committed(committed);
        }

        return default;
    }

    // Not inline in Handle: lambdas capturing its parameter would make it allocate their closure for every change.
    private ValueTask HandleSnapshotMarker(SnapshotMarker marker, SnapshotCoordinator snapshots, CancellationToken ct)
    {
        // READ events of a high watermark belong to its transaction, so confirming it covers them.
        var transaction = Current(marker.Transaction);
        return snapshots.HandleAsync(marker, read => Produce(read, transaction, ct), (topic, key, value) => ProduceRecordAsync(transaction, topic, key, value, ct));
    }

    private async ValueTask EndTransactionAsync(PendingTransaction current, TransactionCommitted committed, CancellationToken ct)
    {
        await ProduceTransactionRecordAsync(current, _transactions!.End(), begin: false, ct);
        await delivery.CommittedAsync(current, ct);
        Committed(committed);
    }

    private async ValueTask CommittedAsync(ValueTask registering, TransactionCommitted committed)
    {
        await registering;
        Committed(committed);
    }

    private void Committed(TransactionCommitted committed)
    {
        _messages.Writer.LastCommitLsn = committed.Transaction.EndLsn;
        _current = null;
        Interlocked.Increment(ref _commitsSeen);
    }

    private PendingTransaction Current(SourceTransaction transaction)
    {
        if (_current?.Transaction != transaction)
            _current = delivery.Begin(transaction);
        return _current;
    }

    /// <summary>
    /// Waits for messages, waking up for work the delivery mode has due while the stream is quiet,
    /// but only between PostgreSQL transactions (exactly-once must not commit part of one).
    /// </summary>
    private async ValueTask<bool> WaitToReadAsync(ChannelReader<SourceMessage> reader, bool betweenTransactions, CancellationToken ct)
    {
        // About to wait: the acknowledgements of what is in flight should not wait for the producer to notice.
        if (!reader.TryPeek(out _))
            delivery.Idle();
        while (betweenTransactions && delivery.DueIn is { } due)
        {
            if (due <= TimeSpan.Zero)
            {
                await delivery.RunDueAsync(ct);
                continue;
            }

            var waiting = reader.WaitToReadAsync(ct).AsTask();
            if (await Task.WhenAny(waiting, Task.Delay(due, ct)) == waiting)
                return await waiting;
        }

        return await reader.WaitToReadAsync(ct);
    }

    private ValueTask ProduceRecordAsync(PendingTransaction transaction, string topic, byte[] key, byte[] value, CancellationToken ct) =>
        delivery.ProduceAsync(transaction, topic, key, value, null, key.Length + value.Length, ct);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private ValueTask Produce(ChangeEvent change, PendingTransaction transaction, CancellationToken ct)
    {
        // Columns, masks, key and topic as the [[tables]] rules set them, worked out once per RELATION.
        var route = topics.Route(change.Table);
        change.UseProjection(route.Table);
        if (_transactions is { } metadata && !metadata.IsOpen(change.Transaction))
            return BeginTransactionThenProduceAsync(change, transaction, route.Topic, metadata, ct);
        return ProduceMessages(change, transaction, route.Topic, ct);
    }

    private async ValueTask BeginTransactionThenProduceAsync(
        ChangeEvent change, PendingTransaction transaction, string topic, TransactionMetadata metadata, CancellationToken ct)
    {
        await ProduceTransactionRecordAsync(transaction, metadata.Begin(change.Transaction, change.Lsn), begin: true, ct);
        await ProduceMessages(change, transaction, topic, ct);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private ValueTask ProduceMessages(ChangeEvent change, PendingTransaction transaction, string topic, CancellationToken ct)
    {
        var messages = _messages;
        int count;
        try
        {
            count = messages.Build(change, _transactions);
        }
        finally
        {
            change.Release();
        }

        for (var i = 0; i < count; i++)
        {
            var sending = Send(transaction, topic, messages[i], change, ct);
            if (!sending.IsCompletedSuccessfully)
                return SendRestAsync(sending, transaction, topic, change, i + 1, count, ct);
        }

        // The JSON, counted by the delivery mode until Kafka acknowledges it, now stands for the row.
        budget.Release(change.ByteSize);
        return default;
    }

    // The messages of one change are sent in order: once one has to wait, the rest follow it here.
    private async ValueTask SendRestAsync(ValueTask sending, PendingTransaction transaction, string topic, ChangeEvent change, int next, int count, CancellationToken ct)
    {
        await sending;
        for (var i = next; i < count; i++)
            await Send(transaction, topic, _messages[i], change, ct);
        budget.Release(change.ByteSize);
    }

    private async ValueTask ProduceTransactionRecordAsync(PendingTransaction transaction, (byte[] Key, byte[] Value) record, bool begin, CancellationToken ct)
    {
        var size = Size(record.Key, record.Value);
        metrics.MessageProduced((int)size);
        await SendAsync(transaction, _transactions!.Topic, record.Key, record.Value, _messages.Headers.ForTransaction(transaction.Transaction, begin), size, change: null, ct);
    }

    private static long Size(byte[]? key, byte[]? value) => (key?.Length ?? 0) + (value?.Length ?? 0);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private ValueTask Send(PendingTransaction transaction, string topic, OutgoingMessage message, ChangeEvent change, CancellationToken ct)
    {
        var size = Size(message.Key, message.Value);
        if (message.Operation is { } operation)
            metrics.EventProduced(change.Table.QualifiedName, operation, (int)size);
        else
            metrics.MessageProduced((int)size);
        return SendAsync(transaction, topic, message.Key, message.Value, message.Headers, size, change, ct);
    }

    /// <param name="change">The change the message was made of; null for a transaction record.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private ValueTask SendAsync(
        PendingTransaction transaction, string topic, byte[]? key, byte[]? value, KafkaHeaders headers, long size, ChangeEvent? change, CancellationToken ct)
    {
        ValueTask producing;
        try
        {
            producing = delivery.ProduceAsync(transaction, topic, key, value, headers, size, ct);
        }
        catch (ProduceException<byte[]?, byte[]?> e)
        {
            Refused(e, transaction, topic, size, change);
            return default;
        }

        return producing.IsCompletedSuccessfully ? default : AwaitProducedAsync(producing, transaction, topic, size, change);
    }

    private async ValueTask AwaitProducedAsync(ValueTask producing, PendingTransaction transaction, string topic, long size, ChangeEvent? change)
    {
        try
        {
            await producing;
        }
        catch (ProduceException<byte[]?, byte[]?> e)
        {
            Refused(e, transaction, topic, size, change);
        }
    }

    /// <summary>Kafka refused a message: skips it when it is oversized and <c>oversized = "skip"</c>, else fails naming what and why.</summary>
    private void Refused(ProduceException<byte[]?, byte[]?> e, PendingTransaction transaction, string topic, long size, ChangeEvent? change)
    {
        if (e.Error.Code is not ErrorCode.MsgSizeTooLarge)
            throw new KafkaFailureException($"Kafka refused an event for topic {topic}: {e.Error.Reason} ({e.Error.Code})", e);

        var where = change is null
            ? $"the transaction record of transaction {transaction.Transaction.Xid} for topic {topic}"
            : $"{change.Operation} on table {change.Table.QualifiedName} at LSN {Lsn.Format(change.Lsn)}";
        if (config.Kafka.Oversized == OversizedPolicy.Skip)
        {
            logger.LogWarning("Skipped an event of {Size} bytes, larger than the producer's message.max.bytes: {Where} ([kafka] oversized = \"skip\")", size, where);
            return;
        }

        throw new KafkaFailureException(
            $"an event of {size} bytes is larger than the producer's message.max.bytes: {where}. Raise message.max.bytes in " +
            "[kafka.properties] (and the topic's max.message.bytes on the brokers), or set [kafka] oversized = \"skip\" to leave such rows out", e);
    }
}
