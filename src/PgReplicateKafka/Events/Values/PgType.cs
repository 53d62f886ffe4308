namespace PgReplicateKafka.Events.Values;

/// <summary>A PostgreSQL type as far as JSON conversion needs it.</summary>
public sealed class PgType
{
    /// <summary>Returned for OIDs the catalog does not know: such values are written as printed.</summary>
    public static readonly PgType Unknown = new(0, "unknown", PgTypeKind.String);

    public PgType(uint oid, string name, PgTypeKind kind, PgType? element = null, byte delimiter = (byte)',', string schema = "pg_catalog")
    {
        if ((kind == PgTypeKind.Array) != (element is not null))
        {
            throw new ArgumentException("Exactly the array kind has an element type.", nameof(element));
        }

        Oid = oid;
        Name = name;
        Kind = kind;
        Element = element;
        Delimiter = delimiter;
        Schema = schema;
    }

    public uint Oid { get; }

    /// <summary>The type name (pg_type.typname), without schema.</summary>
    public string Name { get; }

    public string Schema { get; }

    public PgTypeKind Kind { get; }

    /// <summary>The element type of an array; null for other kinds.</summary>
    public PgType? Element { get; }

    /// <summary>For arrays, the byte separating elements in the array literal (the element type's typdelim; <c>;</c> for box).</summary>
    public byte Delimiter { get; }

    public override string ToString() => Name;
}
