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
                        foreach (var item in batch.Messages)
                            await HandleAsync(item, ct);
                    }
                    else
                    {
                        await HandleAsync(message, ct);
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

    private async ValueTask HandleAsync(SourceMessage message, CancellationToken ct)
    {
        if (message is ChangeEvent change)
        {
            var current = Current(change.Transaction);
            snapshots?.Observe(change);
            await ProduceAsync(change, current, ct);
        }
        else if (message is SnapshotMarker marker && snapshots is not null)
        {
            // READ events of a high watermark belong to its transaction, so confirming it covers them.
            var transaction = Current(marker.Transaction);
            await snapshots.HandleAsync(marker, read => ProduceAsync(read, transaction, ct), (topic, key, value) => ProduceRecordAsync(transaction, topic, key, value, ct));
        }
        else if (message is TransactionCommitted committed)
        {
            var current = Current(committed.Transaction);
            if (_transactions?.IsOpen(committed.Transaction) == true)
                await ProduceTransactionRecordAsync(current, _transactions.End(), begin: false, ct);
            await delivery.CommittedAsync(current, ct);
            _messages.Writer.LastCommitLsn = committed.Transaction.EndLsn;
            _current = null;
            Interlocked.Increment(ref _commitsSeen);
        }
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

    private async ValueTask ProduceAsync(ChangeEvent change, PendingTransaction transaction, CancellationToken ct)
    {
        // Columns, masks, key and topic as the [[tables]] rules set them, worked out once per RELATION.
        var route = topics.Route(change.Table);
        change.UseProjection(route.Table);
        if (_transactions is { } metadata && !metadata.IsOpen(change.Transaction))
            await ProduceTransactionRecordAsync(transaction, metadata.Begin(change.Transaction, change.Lsn), begin: true, ct);

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

        var topic = route.Topic;
        for (var i = 0; i < count; i++)
        {
            var message = messages[i];
            var size = Size(message.Key, message.Value);
            if (message.Operation is { } operation)
                metrics.EventProduced(change.Table.QualifiedName, operation, (int)size);
            else
                metrics.MessageProduced((int)size);
            await SendAsync(transaction, topic, message.Key, message.Value, message.Headers, size, change, ct);
        }

        // The JSON, counted by the delivery mode until Kafka acknowledges it, now stands for the row.
        budget.Release(change.ByteSize);
    }

    private async ValueTask ProduceTransactionRecordAsync(PendingTransaction transaction, (byte[] Key, byte[] Value) record, bool begin, CancellationToken ct)
    {
        var size = Size(record.Key, record.Value);
        metrics.MessageProduced((int)size);
        await SendAsync(transaction, _transactions!.Topic, record.Key, record.Value, _messages.Headers.ForTransaction(transaction.Transaction, begin), size, change: null, ct);
    }

    private static long Size(byte[]? key, byte[]? value) => (key?.Length ?? 0) + (value?.Length ?? 0);

    /// <param name="change">The change the message was made of; null for a transaction record.</param>
    private async ValueTask SendAsync(
        PendingTransaction transaction, string topic, byte[]? key, byte[]? value, Headers headers, long size, ChangeEvent? change, CancellationToken ct)
    {
        try
        {
            await delivery.ProduceAsync(transaction, topic, key, value, headers, size, ct);
        }
        catch (ProduceException<byte[]?, byte[]?> e) when (e.Error.Code is ErrorCode.MsgSizeTooLarge)
        {
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
        catch (ProduceException<byte[]?, byte[]?> e)
        {
            throw new KafkaFailureException($"Kafka refused an event for topic {topic}: {e.Error.Reason} ({e.Error.Code})", e);
        }
    }
}
