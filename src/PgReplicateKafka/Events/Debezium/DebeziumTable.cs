using System.Buffers;
using System.Text.Json;

namespace PgReplicateKafka.Events.Debezium;

/// <summary>
/// A table's Debezium mappings and, with <see cref="DebeziumOptions.Schemas"/>, its key and envelope schemas
/// rendered once as JsonConverter prints them; a table only changes with a new RELATION message (a new <see cref="TableInfo"/>).
/// </summary>
internal sealed class DebeziumTable
{
    // Debezium's io.debezium.data.Enum values of SnapshotRecord, lowercased, in declaration order.
    private const string SnapshotValues = "true,first,first_in_data_collection,last_in_data_collection,last,false,incremental";

    public DebeziumTable(TableInfo table, DebeziumOptions options)
    {
        Fields = new DebeziumField[table.Columns.Count];
        for (var i = 0; i < Fields.Length; i++)
        {
            var column = table.Columns[i];
            // A masked value is a string (hash or replacement) whatever the column's type, as with Debezium's column.mask.*.
            Fields[i] = column.Mask is null ? DebeziumField.Resolve(column.Type, column.TypeModifier, options) : DebeziumField.MaskedString;
        }

        if (options.Schemas)
        {
            var prefix = options.TopicPrefix + "." + table.Schema + "." + table.Name;
            KeySchema = table.KeyColumns.Length == 0 ? null : Render(w => WriteKeySchema(w, table, prefix));
            ValueSchema = Render(w => WriteEnvelopeSchema(w, table, prefix));
        }
    }

    public DebeziumField[] Fields { get; }

    /// <summary>The key's Connect schema JSON; null without <see cref="DebeziumOptions.Schemas"/> or without a key.</summary>
    public byte[]? KeySchema { get; }

    /// <summary>The envelope's Connect schema JSON; null without <see cref="DebeziumOptions.Schemas"/>.</summary>
    public byte[]? ValueSchema { get; }

    private static byte[] Render(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var w = new Utf8JsonWriter(buffer, DebeziumSerializer.WriterOptions))
        {
            write(w);
        }

        return buffer.WrittenSpan.ToArray();
    }

    private void WriteKeySchema(Utf8JsonWriter w, TableInfo table, string prefix)
    {
        w.WriteStartObject();
        w.WriteString("type"u8, "struct"u8);
        w.WriteStartArray("fields"u8);
        foreach (var i in table.KeyColumns)
        {
            WriteColumn(w, table, i);
        }

        w.WriteEndArray();
        w.WriteBoolean("optional"u8, false);
        w.WriteString("name"u8, prefix + ".Key");
        w.WriteEndObject();
    }

    private void WriteEnvelopeSchema(Utf8JsonWriter w, TableInfo table, string prefix)
    {
        w.WriteStartObject();
        w.WriteString("type"u8, "struct"u8);
        w.WriteStartArray("fields"u8);
        WriteRowSchema(w, table, prefix, "before");
        WriteRowSchema(w, table, prefix, "after");
        WriteSourceSchema(w);
        Primitive(w, "string", optional: false, "op");
        Primitive(w, "int64", optional: true, "ts_ms");
        Primitive(w, "int64", optional: true, "ts_us");
        Primitive(w, "int64", optional: true, "ts_ns");
        WriteTransactionSchema(w);
        w.WriteEndArray();
        w.WriteBoolean("optional"u8, false);
        w.WriteString("name"u8, prefix + ".Envelope");
        w.WriteNumber("version"u8, 2);
        w.WriteEndObject();
    }

    private void WriteRowSchema(Utf8JsonWriter w, TableInfo table, string prefix, string field)
    {
        w.WriteStartObject();
        w.WriteString("type"u8, "struct"u8);
        w.WriteStartArray("fields"u8);
        for (var i = 0; i < table.Columns.Count; i++)
        {
            WriteColumn(w, table, i);
        }

        w.WriteEndArray();
        w.WriteBoolean("optional"u8, true);
        w.WriteString("name"u8, prefix + ".Value");
        w.WriteString("field"u8, field);
        w.WriteEndObject();
    }

    // pgoutput does not say which columns are NOT NULL: key columns are (primary key), the others are taken as nullable.
    private void WriteColumn(Utf8JsonWriter w, TableInfo table, int index) =>
        WriteFieldSchema(w, Fields[index], optional: Array.IndexOf(table.KeyColumns, index) < 0, table.Columns[index].Name);

    private static void WriteSourceSchema(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("type"u8, "struct"u8);
        w.WriteStartArray("fields"u8);
        Primitive(w, "string", optional: false, "version");
        Primitive(w, "string", optional: false, "connector");
        Primitive(w, "string", optional: false, "name");
        Primitive(w, "int64", optional: false, "ts_ms");
        w.WriteStartObject();
        w.WriteString("type"u8, "string"u8);
        w.WriteBoolean("optional"u8, true);
        w.WriteString("name"u8, "io.debezium.data.Enum"u8);
        w.WriteNumber("version"u8, 1);
        w.WriteStartObject("parameters"u8);
        w.WriteString("allowed"u8, SnapshotValues);
        w.WriteEndObject();
        w.WriteString("default"u8, "false"u8);
        w.WriteString("field"u8, "snapshot"u8);
        w.WriteEndObject();
        Primitive(w, "string", optional: false, "db");
        Primitive(w, "string", optional: true, "sequence");
        Primitive(w, "int64", optional: true, "ts_us");
        Primitive(w, "int64", optional: true, "ts_ns");
        Primitive(w, "string", optional: false, "schema");
        Primitive(w, "string", optional: false, "table");
        Primitive(w, "int64", optional: true, "txId");
        Primitive(w, "int64", optional: true, "lsn");
        Primitive(w, "int64", optional: true, "xmin");
        Primitive(w, "string", optional: true, "origin");
        Primitive(w, "int64", optional: true, "origin_lsn");
        w.WriteEndArray();
        w.WriteBoolean("optional"u8, false);
        w.WriteString("name"u8, "io.debezium.connector.postgresql.Source"u8);
        w.WriteNumber("version"u8, 1);
        w.WriteString("field"u8, "source"u8);
        w.WriteEndObject();
    }

    private static void WriteTransactionSchema(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("type"u8, "struct"u8);
        w.WriteStartArray("fields"u8);
        Primitive(w, "string", optional: false, "id");
        Primitive(w, "int64", optional: false, "total_order");
        Primitive(w, "int64", optional: false, "data_collection_order");
        w.WriteEndArray();
        w.WriteBoolean("optional"u8, true);
        w.WriteString("name"u8, "event.block"u8);
        w.WriteNumber("version"u8, 1);
        w.WriteString("field"u8, "transaction"u8);
        w.WriteEndObject();
    }

    /// <summary>A field schema in JsonConverter's order: type, items/fields, optional, name, version, doc, parameters, field.</summary>
    private static void WriteFieldSchema(Utf8JsonWriter w, DebeziumField field, bool optional, string? name)
    {
        w.WriteStartObject();
        w.WriteString("type"u8, field.ConnectType);
        string? doc = null;
        switch (field.Kind)
        {
            case DebeziumKind.Array:
                w.WritePropertyName("items"u8);
                WriteFieldSchema(w, field.Element!, optional: true, name: null);
                break;
            case DebeziumKind.VariableScaleDecimal:
                w.WriteStartArray("fields"u8);
                Primitive(w, "int32", optional: false, "scale");
                Primitive(w, "bytes", optional: false, "value");
                w.WriteEndArray();
                doc = "Variable scaled decimal";
                break;
            case DebeziumKind.Point:
                w.WriteStartArray("fields"u8);
                Primitive(w, "double", optional: false, "x");
                Primitive(w, "double", optional: false, "y");
                Primitive(w, "bytes", optional: true, "wkb");
                Primitive(w, "int32", optional: true, "srid");
                w.WriteEndArray();
                doc = "Geometry (POINT)";
                break;
        }

        w.WriteBoolean("optional"u8, optional);
        if (field.Name is { } logical)
        {
            w.WriteString("name"u8, logical);
        }

        if (field.Version is { } version)
        {
            w.WriteNumber("version"u8, version);
        }

        if (doc is not null)
        {
            w.WriteString("doc"u8, doc);
        }

        if (field.Parameters.Count > 0)
        {
            w.WriteStartObject("parameters"u8);
            foreach (var (key, value) in field.Parameters)
            {
                w.WriteString(key, value);
            }

            w.WriteEndObject();
        }

        if (name is not null)
        {
            w.WriteString("field"u8, name);
        }

        w.WriteEndObject();
    }

    private static void Primitive(Utf8JsonWriter w, string type, bool optional, string field)
    {
        w.WriteStartObject();
        w.WriteString("type"u8, type);
        w.WriteBoolean("optional"u8, optional);
        w.WriteString("field"u8, field);
        w.WriteEndObject();
    }
}
