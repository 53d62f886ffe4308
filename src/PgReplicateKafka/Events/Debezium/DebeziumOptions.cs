namespace PgReplicateKafka.Events.Debezium;

/// <summary>Debezium's <c>decimal.handling.mode</c>: how numeric, decimal and money values are written.</summary>
public enum DecimalHandling
{
    /// <summary>Connect Decimal: base64 of the unscaled two's-complement value; numeric without a scale as VariableScaleDecimal.</summary>
    Precise,

    /// <summary>The plain decimal text.</summary>
    String,

    /// <summary>A double; may lose precision.</summary>
    Double,
}

/// <summary>Debezium's <c>time.precision.mode</c> for date, time and timestamp columns.</summary>
public enum TimePrecision
{
    /// <summary>io.debezium.time types chosen by the column's fractional precision.</summary>
    Adaptive,

    /// <summary>Kafka Connect's Date, Time and Timestamp, always in milliseconds.</summary>
    Connect,
}

/// <summary>What a Debezium PostgreSQL connector would have been configured with.</summary>
/// <param name="TopicPrefix">Debezium's <c>topic.prefix</c>: <c>source.name</c> and the first part of every schema name.</param>
/// <param name="Database">The database name written as <c>source.db</c>.</param>
/// <param name="Schemas">Wrap key and value as Kafka Connect's JsonConverter does with <c>schemas.enable=true</c>.</param>
/// <param name="EnumLabels">Labels of each enum type by OID, in <c>enumsortorder</c>: columns of these types become
/// io.debezium.data.Enum with the labels as the <c>allowed</c> parameter. Types not listed are plain strings.</param>
public sealed record DebeziumOptions(
    string TopicPrefix,
    string Database,
    DecimalHandling DecimalHandling = DecimalHandling.Precise,
    TimePrecision TimePrecision = TimePrecision.Adaptive,
    bool Schemas = false,
    IReadOnlyDictionary<uint, IReadOnlyList<string>>? EnumLabels = null);

/// <summary>The envelope's <c>transaction</c> block, filled when transaction metadata is produced.</summary>
/// <param name="Id">Debezium's <c>txId:LSN</c> form.</param>
/// <param name="TotalOrder">Position of the event among all events of the transaction, from 1.</param>
/// <param name="DataCollectionOrder">Position of the event among the transaction's events for the same table, from 1.</param>
public readonly record struct DebeziumTransactionBlock(string Id, long TotalOrder, long DataCollectionOrder);
