using Confluent.Kafka;
using PgReplicateKafka.Events;
using PgReplicateKafka.Sink;

namespace PgReplicateKafka.Pipeline.Delivery;

/// <summary>
/// How events reach Kafka and when a PostgreSQL transaction counts as delivered: at-least-once
/// (each acknowledged event) or exactly-once (Kafka transactions with a checkpoint). The pump calls
/// these in stream order from one thread; both modes report to the same <see cref="DeliveryTracker"/>.
/// </summary>
public interface IDeliveryMode
{
    /// <summary>A PostgreSQL transaction starts.</summary>
    PendingTransaction Begin(SourceTransaction transaction);

    /// <summary>
    /// Produces one message of <paramref name="size"/> bytes, counted in the producer's share of the
    /// in-flight budget until Kafka reports on it. When it throws, nothing was produced and nothing stays counted.
    /// </summary>
    ValueTask ProduceAsync(PendingTransaction transaction, string topic, byte[]? key, byte[]? value, KafkaHeaders? headers, long size, CancellationToken ct);

    /// <summary>The pump has nothing to produce for now (see <see cref="IEventProducer.Idle"/>).</summary>
    void Idle();

    /// <summary>The PostgreSQL transaction's commit was handed over: every one of its events is produced.</summary>
    ValueTask CommittedAsync(PendingTransaction transaction, CancellationToken ct);

    /// <summary>Time until work falls due while the stream is quiet between transactions (null: none).</summary>
    TimeSpan? DueIn { get; }

    /// <summary>Does what <see cref="DueIn"/> announced.</summary>
    ValueTask RunDueAsync(CancellationToken ct);

    /// <summary>The pump stops: <paramref name="betweenTransactions"/> says whether it stopped at a commit.</summary>
    ValueTask EndAsync(bool betweenTransactions);
}
