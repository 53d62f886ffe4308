namespace PgReplicateKafka.Sink;

public enum SnapshotTableState
{
    /// <summary>Planned, no chunk acknowledged yet.</summary>
    Pending,
    InProgress,
    Done,
}

/// <summary>How far one key range of a table has been read and acknowledged by Kafka.</summary>
/// <param name="Lower">Exclusive lower bound of the range (text key values); null for unbounded.</param>
/// <param name="Upper">Inclusive upper bound; null for unbounded.</param>
/// <param name="LastKey">Key of the last row of the last acknowledged chunk: a restart reads after it. Null before the first chunk.</param>
public sealed record SnapshotRangeProgress(string[]? Lower, string[]? Upper, string[]? LastKey, bool Done);

/// <summary>The snapshot progress of one table: what a restart resumes from.</summary>
/// <param name="Table">"schema.table".</param>
/// <param name="SnapshotId">The snapshot the progress belongs to: a new snapshot of the table starts over.</param>
/// <param name="Where">An on-demand request's condition; null for the table's own snapshot.</param>
public sealed record SnapshotTableProgress(string Table, string SnapshotId, SnapshotTableState State, long RowsRead, IReadOnlyList<SnapshotRangeProgress> Ranges, string? Where = null)
{
    /// <summary>The slot the progress was recorded for; null when written without one (an on-demand request's first record, or an earlier version).</summary>
    public SlotIncarnation? Slot { get; init; }

    /// <summary>
    /// Where the record is kept: the table's name for its own snapshot; for an on-demand request, one
    /// per request, so a request never overwrites the table's snapshot or another request.
    /// </summary>
    public string Key => KeyOf(Table, Where is null ? null : SnapshotId);

    /// <summary>The <see cref="Key"/> of a table's snapshot (<paramref name="request"/> null) or of one request.</summary>
    public static string KeyOf(string table, string? request) => request is null ? table : $"{table}#{request}";
}

/// <summary>
/// One life of the replication slot: a slot dropped and created again under the same name, or one on a
/// rebuilt cluster, is another incarnation, and progress recorded for one says nothing about another.
/// </summary>
/// <param name="SystemId">The PostgreSQL cluster's system identifier (IDENTIFY_SYSTEM).</param>
/// <param name="Origin">
/// A WAL position the slot stood at or after from its creation on: the server's position just before
/// pg-replicate-kafka created it, or the slot's confirmed position when pg-replicate-kafka first found it.
/// </param>
public sealed record SlotIncarnation(string SystemId, ulong Origin);

/// <summary>What the progress topic holds for this database and slot name.</summary>
/// <param name="Tables">Each table's and each request's newest record, by <see cref="SnapshotTableProgress.Key"/>.</param>
/// <param name="Slot">The slot incarnation recorded last; null when none was recorded.</param>
public sealed record RecordedProgress(IReadOnlyDictionary<string, SnapshotTableProgress> Tables, SlotIncarnation? Slot);
