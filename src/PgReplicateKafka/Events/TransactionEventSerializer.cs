using System.Buffers;
using System.Text.Json;
using PgReplicateKafka.Events.Debezium;

namespace PgReplicateKafka.Events;

/// <summary>
/// The BEGIN and END records of the transaction topic, as Debezium's <c>provide.transaction.metadata</c> writes them:
/// key <c>{"id"}</c>, value <c>{status, id, event_count, data_collections, ts_ms}</c>.
/// </summary>
public sealed class TransactionEventSerializer
{
    private static readonly byte[] KeySchema =
        """{"type":"struct","fields":[{"type":"string","optional":false,"field":"id"}],"optional":false,"name":"io.debezium.connector.common.TransactionMetadataKey"}"""u8.ToArray();

    private static readonly byte[] ValueSchema =
        """{"type":"struct","fields":[{"type":"string","optional":false,"field":"status"},{"type":"string","optional":false,"field":"id"},{"type":"int64","optional":true,"field":"event_count"},{"type":"array","items":{"type":"struct","fields":[{"type":"string","optional":false,"field":"data_collection"},{"type":"int64","optional":false,"field":"event_count"}],"optional":false},"optional":true,"field":"data_collections"},{"type":"int64","optional":false,"field":"ts_ms"}],"optional":false,"name":"io.debezium.connector.common.TransactionMetadataValue"}"""u8.ToArray();

    private readonly bool _schemas;
    private readonly ArrayBufferWriter<byte> _buffer = new(512);
    private readonly Utf8JsonWriter _writer;

    /// <param name="schemas">Wrap as Kafka Connect's JsonConverter with <c>schemas.enable=true</c> does.</param>
    public TransactionEventSerializer(bool schemas)
    {
        _schemas = schemas;
        _writer = new Utf8JsonWriter(_buffer, DebeziumSerializer.WriterOptions);
    }

    public byte[] Key(string id)
    {
        var w = Begin(KeySchema);
        w.WriteStartObject();
        w.WriteString("id"u8, id);
        w.WriteEndObject();
        return End();
    }

    public byte[] BeginRecord(string id, long tsMs)
    {
        var w = Begin(ValueSchema);
        w.WriteStartObject();
        w.WriteString("status"u8, "BEGIN"u8);
        w.WriteString("id"u8, id);
        w.WriteNull("event_count"u8);
        w.WriteNull("data_collections"u8);
        w.WriteNumber("ts_ms"u8, tsMs);
        w.WriteEndObject();
        return End();
    }

    /// <param name="id">The transaction's id.</param>
    /// <param name="tsMs">The commit time.</param>
    /// <param name="eventCount">Change events of the transaction.</param>
    /// <param name="collections">Change events per table (<c>schema.table</c>), in the order the tables first appeared.</param>
    public byte[] EndRecord(string id, long tsMs, long eventCount, IReadOnlyList<KeyValuePair<string, long>> collections)
    {
        var w = Begin(ValueSchema);
        w.WriteStartObject();
        w.WriteString("status"u8, "END"u8);
        w.WriteString("id"u8, id);
        w.WriteNumber("event_count"u8, eventCount);
        w.WriteStartArray("data_collections"u8);
        foreach (var (name, count) in collections)
        {
            w.WriteStartObject();
            w.WriteString("data_collection"u8, name);
            w.WriteNumber("event_count"u8, count);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteNumber("ts_ms"u8, tsMs);
        w.WriteEndObject();
        return End();
    }

    private Utf8JsonWriter Begin(byte[] schema)
    {
        _buffer.ResetWrittenCount();
        _writer.Reset(_buffer);
        if (_schemas)
        {
            _writer.WriteStartObject();
            _writer.WritePropertyName("schema"u8);
            _writer.WriteRawValue(schema, skipInputValidation: true);
            _writer.WritePropertyName("payload"u8);
        }

        return _writer;
    }

    private byte[] End()
    {
        if (_schemas)
            _writer.WriteEndObject();
        _writer.Flush();
        return _buffer.WrittenSpan.ToArray();
    }
}
