using PgReplicateKafka.Events;
using PgReplicateKafka.Sink;
using PgReplicateKafka.Source;

namespace PgReplicateKafka.Pipeline.Delivery;

/// <summary>
/// Whether a checkpoint read from Kafka describes the slot being streamed now. Skipping to a
/// checkpoint of another history (a rebuilt or restored cluster with the same names) would start
/// beyond the changes written since, and write that position into the slot: they would be lost.
/// </summary>
public static class CheckpointRule
{
    /// <summary>Why <paramref name="checkpoint"/> must not be used, or null when it may.</summary>
    /// <param name="cluster">The server as IDENTIFY_SYSTEM described it (its WAL position is the current flush position).</param>
    /// <param name="slotPosition">The slot's confirmed_flush_lsn now.</param>
    public static string? Rejection(Checkpoint checkpoint, ClusterIdentity cluster, ulong slotPosition)
    {
        if (checkpoint.SystemId != cluster.SystemId)
            return $"it was written for PostgreSQL cluster {checkpoint.SystemId}, the server is cluster {cluster.SystemId} (rebuilt or another cluster)";
        if (checkpoint.Timeline != cluster.Timeline)
            return $"it was written on timeline {checkpoint.Timeline}, the server is on timeline {cluster.Timeline} (a promoted standby or a restored backup need not hold that WAL)";
        if (checkpoint.Lsn > cluster.WalPosition)
            return $"its position {Lsn.Format(checkpoint.Lsn)} lies beyond the server's current WAL position {Lsn.Format(cluster.WalPosition)}";
        // A slot never moves back: one behind where the checkpoint's slot was first seen is another slot.
        if (checkpoint.SlotOrigin > slotPosition)
            return $"its slot was first seen at {Lsn.Format(checkpoint.SlotOrigin)}, the slot now stands at {Lsn.Format(slotPosition)} (the slot was created again)";
        return null;
    }
}
