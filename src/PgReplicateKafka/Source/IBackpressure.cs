namespace PgReplicateKafka.Source;

/// <summary>How the receive loop learns that the sink is behind: it waits for room before handing over more.</summary>
public interface IBackpressure
{
    /// <summary>Completes when there is room for more in flight.</summary>
    ValueTask WaitForRoomAsync(CancellationToken ct);

    /// <summary>Counts <paramref name="bytes"/> handed over; the consumer releases them.</summary>
    void Add(long bytes);
}
