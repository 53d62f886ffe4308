using Confluent.Kafka;

namespace PgReplicateKafka.Sink;

/// <summary>
/// What the pipeline needs of a Kafka producer: the seam that lets the pump and the delivery modes
/// be tested against an in-memory producer. <see cref="KafkaSink"/> is the real one.
/// </summary>
public interface IEventProducer : IDisposable
{
    /// <summary>A fatal producer error (e.g. fenced, or idempotence broken); once set, nothing more is delivered.</summary>
    Exception? Fatal { get; }

    /// <summary>Another producer with our transactional.id took over: rebuilding would only fence it back.</summary>
    bool Fenced { get; }

    /// <summary>
    /// Hands a message over; waits while the producer's queue is full (backpressure) instead of
    /// failing. <paramref name="onDelivery"/> is told of the outcome once, on whichever thread serves the producer's reports (possibly this one, during a later call). Other refusals
    /// (e.g. a message over message.max.bytes) throw <see cref="ProduceException{TKey,TValue}"/>.
    /// <paramref name="headers"/> are copied by the time the call completes, so the caller may fill the instance again for its next message.
    /// </summary>
    ValueTask ProduceAsync(string topic, byte[]? key, byte[]? value, KafkaHeaders? headers, IDeliveryHandler? onDelivery, CancellationToken ct);

    /// <summary>
    /// Nothing more is produced for now: the reports of what is in flight are served by the producer's own thread at
    /// once, not after the pause that tells it production stopped (the producing thread serves them while it produces).
    /// </summary>
    void Idle();

    /// <summary>Exactly-once: registers the transactional.id, aborting what a previous instance left open and fencing it.</summary>
    void InitTransactions(TimeSpan timeout);

    void BeginTransaction();

    /// <summary>Commits, retrying retriable failures; throws <see cref="KafkaTransactionAbortedException"/> when it had to abort instead.</summary>
    void CommitTransaction(TimeSpan timeout);

    void AbortTransaction(TimeSpan timeout);
}
