namespace PgReplicateKafka.Events.Values;

/// <summary>Selects the converter <see cref="ValueWriter"/> uses for a type's text output.</summary>
public enum PgTypeKind : byte
{
    /// <summary>JSON string exactly as PostgreSQL printed it.</summary>
    String,
    Bool,
    /// <summary>int2, int4, int8, oid, xid: JSON number.</summary>
    Integer,
    /// <summary>float4, float8: JSON number, non-finite values as strings.</summary>
    Float,
    Numeric,
    /// <summary>json, jsonb: the document embedded.</summary>
    Json,
    Bytea,
    Timestamp,
    TimestampTz,
    TimeTz,
    Hstore,
    /// <summary>Array of <see cref="PgType.Element"/>.</summary>
    Array,
}
