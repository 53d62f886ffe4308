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
    /// <summary>
    /// Where the record is kept: the table's name for its own snapshot; for an on-demand request, one
    /// per request, so a request never overwrites the table's snapshot or another request.
    /// </summary>
    public string Key => KeyOf(Table, Where is null ? null : SnapshotId);

    /// <summary>The <see cref="Key"/> of a table's snapshot (<paramref name="request"/> null) or of one request.</summary>
    public static string KeyOf(string table, string? request) => request is null ? table : $"{table}#{request}";
}
