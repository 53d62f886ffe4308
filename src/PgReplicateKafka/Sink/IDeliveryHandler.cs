using Confluent.Kafka;

namespace PgReplicateKafka.Sink;

/// <summary>Told once of each produced message's outcome, on whichever thread serves the producer's reports (its delivery thread, or a thread producing); must not throw.</summary>
public interface IDeliveryHandler
{
    /// <param name="failure">Null when Kafka acknowledged the message; else why it never will.</param>
    void Delivered(DeliveryFailure? failure);
}

/// <summary>A message Kafka did not take: its topic and librdkafka's error.</summary>
public sealed record DeliveryFailure(string Topic, Error Error);

/// <summary>A handler that calls a delegate, for callers with one outcome to wait for or one thing to do for every message.</summary>
public sealed class DeliveryCallback(Action<DeliveryFailure?> callback) : IDeliveryHandler
{
    public void Delivered(DeliveryFailure? failure) => callback(failure);
}
