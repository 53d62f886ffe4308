namespace PgReplicateKafka.Events;

public enum ChangeOperation
{
    Insert,
    Update,
    Delete,
    Truncate,

    /// <summary>A row read by a snapshot, not a change from the stream.</summary>
    Read,
}

/// <summary>A PostgreSQL transaction as the source announced it (pgoutput BEGIN).</summary>
public sealed class SourceTransaction(uint xid, DateTime commitTimestamp)
{
    public uint Xid { get; } = xid;

    public DateTime CommitTimestamp { get; } = commitTimestamp;

    public long CommitTimestampMs { get; } = new DateTimeOffset(commitTimestamp, TimeSpan.Zero).ToUnixTimeMilliseconds();

    /// <summary>End of the commit record: the position to confirm once the transaction is delivered.</summary>
    public ulong EndLsn { get; set; }
}

/// <summary>One row change, with its values still in PostgreSQL's text form.</summary>
public sealed class ChangeEvent(TableInfo table, ChangeOperation operation, ulong lsn, SourceTransaction transaction, RowData? before, RowData? after)
    : SourceMessage
{
    /// <summary>The table as received; once the pump routes the event, as its [[tables]] rule shapes it.</summary>
    public TableInfo Table { get; private set; } = table;
    public ChangeOperation Operation { get; } = operation;

    /// <summary>LSN of the change's own WAL record.</summary>
    public ulong Lsn { get; } = lsn;

    public SourceTransaction Transaction { get; } = transaction;

    /// <summary>The old row as PostgreSQL sent it (identity columns or, with REPLICA IDENTITY FULL, all); null if not sent.</summary>
    public RowData? Before { get; } = before;

    public RowData? After { get; } = after;

    /// <summary>Memory the event holds until it is serialized, for in-flight accounting.</summary>
    public long ByteSize => 64 + (Before?.ByteSize ?? 0) + (After?.ByteSize ?? 0);

    /// <summary>
    /// Has the event written as <paramref name="projected"/> (from <see cref="TableRules.Project"/>, a view of the
    /// same rows) describes: the serializers read <see cref="Table"/>, so the rule applies whatever the envelope.
    /// </summary>
    public void UseProjection(TableInfo projected) => Table = projected;

    /// <summary>Returns pooled buffers; the event must not be used afterwards.</summary>
    public void Release()
    {
        Before?.Release();
        After?.Release();
    }
}
