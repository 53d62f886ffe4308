using System.Runtime.CompilerServices;
using Confluent.Kafka;
using PgReplicateKafka.Events;
using PgReplicateKafka.Sink;

namespace PgReplicateKafka.Pipeline.Delivery;

/// <summary>At-least-once: a transaction is delivered when Kafka has acknowledged each of its events.</summary>
public sealed class AtLeastOnceDelivery(IEventProducer producer, DeliveryTracker tracker) : IDeliveryMode
{
    public TimeSpan? DueIn => null;

    public void Idle() => producer.Idle();

    public PendingTransaction Begin(SourceTransaction transaction) => tracker.Begin(transaction);

    // Runs per change: compiled optimized at its first call, not after seconds of tier 0 (see EventPump).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ValueTask ProduceAsync(PendingTransaction transaction, string topic, byte[]? key, byte[]? value, KafkaHeaders? headers, long size, CancellationToken ct)
    {
        transaction.AddEvent(size);
        try
        {
            var produced = producer.ProduceAsync(topic, key, value, headers, transaction.OnDelivery, ct);
            if (!produced.IsCompleted)
                return WaitAsync(produced, transaction, size);
            produced.GetAwaiter().GetResult();
            return ValueTask.CompletedTask;
        }
        catch
        {
            transaction.Unproduced(size);
            throw;
        }
    }

    /// <summary>The producer's queue was full: a stop can cancel the wait, and then no report will come.</summary>
    private static async ValueTask WaitAsync(ValueTask produced, PendingTransaction transaction, long size)
    {
        try
        {
            await produced;
        }
        catch
        {
            transaction.Unproduced(size);
            throw;
        }
    }

    public ValueTask CommittedAsync(PendingTransaction transaction, CancellationToken ct)
    {
        transaction.Commit();
        return ValueTask.CompletedTask;
    }

    public ValueTask RunDueAsync(CancellationToken ct) => ValueTask.CompletedTask;

    public ValueTask EndAsync(bool betweenTransactions) => ValueTask.CompletedTask;
}
