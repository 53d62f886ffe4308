using PgReplicateKafka.Configuration;
using PgReplicateKafka.Events;
using PgReplicateKafka.Sink;

namespace PgReplicateKafka.Pipeline.Snapshot;

/// <summary>
/// Which slot incarnation the snapshot progress belongs to, and which records a plan goes by. A slot
/// created again (dropped, invalidated) or one on a rebuilt cluster with the same names starts a new
/// stream: progress recorded for another says nothing about what this one carried.
/// </summary>
public static class SlotRule
{
    /// <summary>Why <paramref name="recorded"/> is not the slot streamed now, or null when it is.</summary>
    /// <param name="systemId">The server's system identifier.</param>
    /// <param name="slotPosition">The slot's confirmed position at the session's start (its consistent point when just created).</param>
    public static string? Rejection(SlotIncarnation recorded, string systemId, ulong slotPosition)
    {
        if (recorded.SystemId != systemId)
            return $"it was recorded on PostgreSQL cluster {recorded.SystemId}, the server is cluster {systemId} (rebuilt or another cluster)";
        // A slot never moves back: one that stands before where the recorded one started is another slot.
        if (recorded.Origin > slotPosition)
            return $"that slot started at or after {Lsn.Format(recorded.Origin)}, the slot now stands at {Lsn.Format(slotPosition)} (restored from a backup, or created again)";
        return null;
    }

    /// <summary>
    /// The table records a plan goes by, by table. when_needed counts only those of <paramref name="slot"/>:
    /// a new slot missed everything before it. The other modes count every table's record, as Debezium's
    /// initial counts any recorded offset.
    /// </summary>
    public static Dictionary<string, SnapshotTableProgress> Counted(SnapshotMode mode, IReadOnlyDictionary<string, SnapshotTableProgress> recorded, SlotIncarnation slot)
    {
        var counted = new Dictionary<string, SnapshotTableProgress>(StringComparer.Ordinal);
        foreach (var record in recorded.Values)
        {
            if (record.Where is null && (mode != SnapshotMode.WhenNeeded || record.Slot == slot))
                counted[record.Table] = record;
        }

        return counted;
    }
}
