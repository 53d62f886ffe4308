using System.Text.Json;
using PgReplicateKafka.Events.Values;

namespace PgReplicateKafka.Events;

public sealed class ColumnInfo(string name, PgType type, bool isReplicaIdentity, int typeModifier = -1)
{
    public string Name { get; } = name;
    public JsonEncodedText JsonName { get; } = JsonEncodedText.Encode(name);
    public PgType Type { get; } = type;

    /// <summary>Flagged as part of the replica identity in pgoutput's RELATION message.</summary>
    public bool IsReplicaIdentity { get; } = isReplicaIdentity;

    /// <summary>atttypmod from the RELATION message (precision, scale, length); -1 when the type has none.</summary>
    public int TypeModifier { get; } = typeModifier;
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
}
