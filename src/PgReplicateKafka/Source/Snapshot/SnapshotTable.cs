using PgReplicateKafka.Events;
using PgReplicateKafka.Events.Values;

namespace PgReplicateKafka.Source.Snapshot;

/// <summary>A published column, in the order pgoutput sends it.</summary>
/// <param name="SqlType">The type as <c>format_type</c> prints it (typmod included), for casting key parameters back.</param>
/// <param name="TypeModifier">atttypmod, as pgoutput's RELATION message gives it: the Debezium envelope takes scales and precisions from it.</param>
public sealed record SnapshotColumn(string Name, uint TypeOid, string SqlType, bool IsReplicaIdentity, int TypeModifier = -1);

/// <summary>A published table as a snapshot reads it: columns, the key to page by and the message key.</summary>
public sealed class SnapshotTable
{
    public SnapshotTable(
        uint relationId, string schema, string name, bool partitioned, IReadOnlyList<SnapshotColumn> columns, int[] pagingKey, string? pagingIndex,
        int[] messageKey, bool identityIsFull, string? rowFilter, long estimatedRows)
    {
        RelationId = relationId;
        Schema = schema;
        Name = name;
        Columns = columns;
        PagingKey = pagingKey;
        PagingIndex = pagingIndex;
        MessageKey = messageKey;
        IdentityIsFull = identityIsFull;
        RowFilter = rowFilter;
        EstimatedRows = estimatedRows;
        QualifiedName = schema + "." + name;
        // ONLY keeps inheritance children out (pgoutput publishes them as tables of their own); a
        // partitioned table has no rows of its own, so it is read with its partitions.
        SqlName = (partitioned ? "" : "ONLY ") + SqlNames.QuoteIdentifier(schema) + "." + SqlNames.QuoteIdentifier(name);
    }

    public uint RelationId { get; }
    public string Schema { get; }
    public string Name { get; }

    /// <summary>"schema.table", as <see cref="TableInfo.QualifiedName"/> and snapshot requests name it.</summary>
    public string QualifiedName { get; }

    /// <summary>The quoted name for FROM clauses.</summary>
    public string SqlName { get; }

    public IReadOnlyList<SnapshotColumn> Columns { get; }

    /// <summary>Indexes into <see cref="Columns"/> of the key chunks are paged by (primary key, else a unique index on NOT NULL columns); empty when there is none.</summary>
    public int[] PagingKey { get; }

    /// <summary>The index behind <see cref="PagingKey"/>, for messages.</summary>
    public string? PagingIndex { get; }

    /// <summary>The Kafka message key columns, chosen by the same rule as the replication stream's.</summary>
    public int[] MessageKey { get; }

    public bool IdentityIsFull { get; }

    /// <summary>The publication's row filter (PostgreSQL 15+), or null: a snapshot must not emit rows the stream would never send.</summary>
    public string? RowFilter { get; }

    /// <summary><c>pg_class.reltuples</c>; negative when the table was never vacuumed or analyzed.</summary>
    public long EstimatedRows { get; }

    /// <summary>Why this table cannot be snapshotted, or null when it can.</summary>
    public string? RefusalReason =>
        PagingKey.Length == 0
            ? $"table {QualifiedName} has neither a primary key nor a unique index on NOT NULL published columns, so it cannot be read in chunks " +
              "or reconciled with concurrent changes; add a primary key (e.g. ALTER TABLE ... ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY) " +
              "or leave the table out of the snapshot"
            : MessageKey.Length == 0
                ? $"table {QualifiedName} has no replica identity (REPLICA IDENTITY NOTHING, or DEFAULT without a primary key), so its events carry no key " +
                  "to reconcile snapshot rows with; set REPLICA IDENTITY USING INDEX " + PagingIndex + " or leave the table out of the snapshot"
                : null;

    /// <summary>Throws <see cref="SnapshotRefusedException"/> when <see cref="RefusalReason"/> is set.</summary>
    public void EnsureSnapshottable()
    {
        if (RefusalReason is { } reason)
            throw new SnapshotRefusedException(QualifiedName, reason);
    }

    /// <summary>
    /// The table as events describe it, for READ events and chunk windows. It matches what the
    /// replication stream builds from pgoutput's RELATION message, so snapshot and streamed events of
    /// a row carry the same key (and so the same topic and partition) and the same types.
    /// </summary>
    public TableInfo ToTableInfo(TypeCatalog types)
    {
        var columns = new ColumnInfo[Columns.Count];
        for (var i = 0; i < columns.Length; i++)
            columns[i] = new ColumnInfo(Columns[i].Name, types.Resolve(Columns[i].TypeOid), Columns[i].IsReplicaIdentity, Columns[i].TypeModifier);
        return new TableInfo(RelationId, Schema, Name, columns, IdentityIsFull, MessageKey);
    }
}

/// <summary>A table that a snapshot cannot read correctly; the message says why and what to do.</summary>
public sealed class SnapshotRefusedException(string table, string reason)
    : ReplicatorException(ExitCodes.PostgresFailure, "snapshot refused: " + reason)
{
    public string Table { get; } = table;
}
