using System.Threading.Channels;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using NpgsqlTypes;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Events;
using PgReplicateKafka.Events.Values;
using PgReplicateKafka.Sink;

namespace PgReplicateKafka.Pipeline;

/// <summary>
/// The work taken off the receive loop: serializes each change to JSON and hands it to the producer,
/// registering every transaction with the delivery tracker in commit order.
/// </summary>
/// <remarks>With <paramref name="batcher"/> (exactly-once) events go out in Kafka transactions and count as delivered when those commit.</remarks>
public sealed class EventPump(ReplicatorConfig config, KafkaSink sink, DeliveryTracker tracker, InFlightBudget budget, TransactionBatcher? batcher, ILogger logger)
{
    private readonly EventSerializer _serializer = new(config.Postgres.Database, new FormatOptions(
        NumericAsNumber: config.Format.Numeric == NumericFormat.Number,
        JsonAsString: config.Format.Json == JsonFormat.String,
        BinaryAsHex: config.Format.Binary == BinaryFormat.Hex));

    private long _commitsSeen;

    /// <summary>Transactions whose commit this pump has registered with the tracker.</summary>
    public long CommitsSeen => Interlocked.Read(ref _commitsSeen);

    public async Task RunAsync(ChannelReader<SourceMessage> reader, CancellationToken ct)
    {
        PendingTransaction? current = null;
        var completed = false;
        try
        {
            while (await WaitToReadAsync(reader, betweenTransactions: current is null, ct))
            {
                while (reader.TryRead(out var message))
                {
                    if (message is ChangeEvent change)
                    {
                        if (current?.Transaction != change.Transaction)
                            current = Begin(change.Transaction);
                        await ProduceAsync(change, current, ct);
                    }
                    else if (message is TransactionCommitted committed)
                    {
                        if (current?.Transaction != committed.Transaction)
                            current = Begin(committed.Transaction);
                        current.Commit();
                        batcher?.TransactionCommitted(current);
                        current = null;
                        Interlocked.Increment(ref _commitsSeen);
                    }
                }
            }

            completed = current is null;
        }
        finally
        {
            // The stream ended inside a transaction: PostgreSQL resends it whole after reconnecting.
            current?.Abandon();
            if (completed)
                batcher?.Commit();
            else
                batcher?.Abort();
        }
    }

    private PendingTransaction Begin(SourceTransaction transaction)
    {
        var pending = tracker.Begin(transaction);
        batcher?.Hold(pending);
        return pending;
    }

    /// <summary>
    /// Waits for messages; exactly-once also wakes up to commit a batch that is due while the stream
    /// is quiet, but only between PostgreSQL transactions: the open Kafka transaction must not commit
    /// part of one.
    /// </summary>
    private async ValueTask<bool> WaitToReadAsync(ChannelReader<SourceMessage> reader, bool betweenTransactions, CancellationToken ct)
    {
        while (betweenTransactions && batcher?.DueIn is { } due)
        {
            if (due <= TimeSpan.Zero)
            {
                batcher.CommitIfDue();
                continue;
            }

            var waiting = reader.WaitToReadAsync(ct).AsTask();
            if (await Task.WhenAny(waiting, Task.Delay(due, ct)) == waiting)
                return await waiting;
        }

        return await reader.WaitToReadAsync(ct);
    }

    private async ValueTask ProduceAsync(ChangeEvent change, PendingTransaction transaction, CancellationToken ct)
    {
        byte[]? key;
        byte[] value;
        try
        {
            key = _serializer.SerializeKey(change);
            value = _serializer.SerializeValue(change, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        }
        finally
        {
            change.Release();
        }

        // From here the JSON, not the raw row, is what occupies memory until Kafka acknowledges it.
        long size = value.Length + (key?.Length ?? 0);
        budget.Add(size);
        budget.Release(change.ByteSize);
        try
        {
            tracker.Metrics.EventProduced(change.Table.QualifiedName, change.Operation, (int)size);
            if (batcher is null)
            {
                transaction.AddEvent(size);
                await sink.ProduceAsync(change.Table.Topic, key, value, transaction.OnDelivery, ct);
            }
            else
            {
                batcher.BeforeProduce();
                batcher.Produced(size);
                await sink.ProduceAsync(change.Table.Topic, key, value, batcher.OnDelivery, ct);
            }
        }
        catch (ProduceException<byte[]?, byte[]?> e) when (e.Error.Code is ErrorCode.MsgSizeTooLarge)
        {
            var where = $"{change.Operation} on table {change.Table.QualifiedName} at LSN {new NpgsqlLogSequenceNumber(change.Lsn)}";
            if (config.Kafka.Oversized == OversizedPolicy.Skip)
            {
                logger.LogWarning("Skipped an event of {Size} bytes, larger than the producer's message.max.bytes: {Where} ([kafka] oversized = \"skip\")", size, where);
                if (batcher is null)
                    transaction.Skip(size);
                else
                    batcher.Unproduced(size);
                return;
            }

            throw new KafkaFailureException(
                $"an event of {size} bytes is larger than the producer's message.max.bytes: {where}. Raise message.max.bytes in " +
                "[kafka.properties] (and the topic's max.message.bytes on the brokers), or set [kafka] oversized = \"skip\" to leave such rows out", e);
        }
        catch (ProduceException<byte[]?, byte[]?> e) when (batcher is not null && sink.Fatal is null && e.Error.Code == ErrorCode.Local_State)
        {
            // An earlier event of the Kafka transaction failed, so it can only be aborted (by RunAsync's
            // finally); its PostgreSQL transactions are streamed again from the last commit.
            throw new KafkaTransactionAbortedException(e.Error.Reason, e);
        }
        catch (ProduceException<byte[]?, byte[]?> e)
        {
            throw new KafkaFailureException($"Kafka refused an event for topic {change.Table.Topic}: {e.Error.Reason} ({e.Error.Code})", e);
        }
    }
}
