using System.Text.Json;
using PgReplicateKafka.Events.Values;

namespace PgReplicateKafka.Events;

public sealed class ColumnInfo(string name, PgType type, bool isReplicaIdentity, int typeModifier = -1, ColumnMask? mask = null)
{
    public string Name { get; } = name;
    public JsonEncodedText JsonName { get; } = JsonEncodedText.Encode(name);
    public PgType Type { get; } = type;

    /// <summary>Flagged as part of the replica identity in pgoutput's RELATION message.</summary>
    public bool IsReplicaIdentity { get; } = isReplicaIdentity;

    /// <summary>atttypmod from the RELATION message (precision, scale, length); -1 when the type has none.</summary>
    public int TypeModifier { get; } = typeModifier;

    /// <summary>Set by a <c>[[tables]]</c> rule's mask_columns: the value is written masked, never as it is.</summary>
    public ColumnMask? Mask { get; } = mask;

    internal ColumnInfo Masked(ColumnMask? mask) => mask is null ? this : new ColumnInfo(Name, Type, IsReplicaIdentity, TypeModifier, mask);
}

/// <summary>What we know of a published table: its columns and key.</summary>
public sealed class TableInfo
{
    public TableInfo(uint relationId, string schema, string name, IReadOnlyList<ColumnInfo> columns, bool identityIsFull, int[] keyColumns)
    {
        RelationId = relationId;
        Schema = schema;
        Name = name;
        Columns = columns;
        IdentityIsFull = identityIsFull;
        KeyColumns = keyColumns;
        JsonSchema = JsonEncodedText.Encode(schema);
        JsonName = JsonEncodedText.Encode(name);
        QualifiedName = schema + "." + name;
    }

    public uint RelationId { get; }
    public string Schema { get; }
    public string Name { get; }
    public string QualifiedName { get; }
    public JsonEncodedText JsonSchema { get; }
    public JsonEncodedText JsonName { get; }
    public IReadOnlyList<ColumnInfo> Columns { get; }

    /// <summary>REPLICA IDENTITY FULL: the old row PostgreSQL sends holds every column.</summary>
    public bool IdentityIsFull { get; }

    /// <summary>Indexes of the columns that make the Kafka message key; empty means a null key.</summary>
    public int[] KeyColumns { get; }

    // Null unless projected: then column i's value is at _rowIndexes[i] of the row PostgreSQL sent.
    private int[]? _rowIndexes;

    /// <summary>Where column <paramref name="column"/>'s value is in a <see cref="RowData"/> of this table.</summary>
    public int RowIndex(int column) => _rowIndexes is null ? column : _rowIndexes[column];

    /// <summary>
    /// This table as a <c>[[tables]]</c> rule shapes its events: only <paramref name="rowIndexes"/>' columns
    /// (with masks), keyed by <paramref name="keyColumns"/> (indexes into the new columns). Rows stay as received.
    /// </summary>
    internal TableInfo Project(IReadOnlyList<ColumnInfo> columns, int[] rowIndexes, int[] keyColumns) =>
        new(RelationId, Schema, Name, columns, IdentityIsFull, keyColumns) { _rowIndexes = rowIndexes };
}
