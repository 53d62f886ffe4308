using System.Buffers;
using System.Buffers.Text;
using System.Runtime.CompilerServices;
using System.Text.Encodings.Web;
using System.Text.Json;
using PgReplicateKafka.Events.Debezium;
using PgReplicateKafka.Events.Values;

namespace PgReplicateKafka.Events;

/// <summary>
/// Writes the JSON envelope and the JSON message key of a change event. One instance per thread:
/// it reuses one buffer and one <see cref="Utf8JsonWriter"/> for every event.
/// </summary>
public sealed class EventSerializer
{
    public const string ConnectorName = "pg-replicate-kafka";

    private static readonly JsonEncodedText Insert = JsonEncodedText.Encode("INSERT");
    private static readonly JsonEncodedText Update = JsonEncodedText.Encode("UPDATE");
    private static readonly JsonEncodedText Delete = JsonEncodedText.Encode("DELETE");
    private static readonly JsonEncodedText Truncate = JsonEncodedText.Encode("TRUNCATE");
    private static readonly JsonEncodedText Read = JsonEncodedText.Encode("READ");
    private static readonly JsonEncodedText Connector = JsonEncodedText.Encode(ConnectorName);
    private static readonly JsonEncodedText Version = JsonEncodedText.Encode(ProductInfo.Version);

    // Relaxed escaping: the output is never embedded in HTML, and escaping every non-ASCII
    // character would only make the events bigger.
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly ArrayBufferWriter<byte> _buffer = new(4096);
    private readonly Utf8JsonWriter _writer;
    private readonly JsonEncodedText _database;
    private readonly FormatOptions _format;

    public EventSerializer(string database, FormatOptions format)
    {
        _database = JsonEncodedText.Encode(database);
        _format = format;
        _writer = new Utf8JsonWriter(_buffer, WriterOptions);
    }

    /// <summary>The event envelope; <paramref name="nowMs"/> is the event's build time.</summary>
    /// <param name="change">The change.</param>
    /// <param name="nowMs">The event's build time.</param>
    /// <param name="transaction">The <c>transaction</c> object, written only when transaction metadata is produced.</param>
    // Runs per change: compiled optimized at its first call, not after seconds of tier 0 (see EventPump).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public byte[] SerializeValue(ChangeEvent change, long nowMs, DebeziumTransactionBlock? transaction = null)
    {
        var w = Begin();
        var table = change.Table;
        w.WriteStartObject();
        w.WriteString("schema"u8, table.JsonSchema);
        w.WriteString("table"u8, table.JsonName);
        w.WriteString("op"u8, OperationName(change.Operation));
        w.WriteNumber("ts_ms"u8, nowMs);

        w.WritePropertyName("before"u8);
        if (change.Before is { } before)
            WriteRow(w, table, before, fallback: null, identityOnly: !table.IdentityIsFull);
        else
            w.WriteNullValue();

        w.WritePropertyName("after"u8);
        if (change.After is { } after)
            WriteRow(w, table, after, fallback: change.Before, identityOnly: false);
        else
            w.WriteNullValue();

        w.WriteStartObject("source"u8);
        w.WriteString("version"u8, Version);
        w.WriteString("connector"u8, Connector);
        w.WriteNumber("ts_ms"u8, change.Transaction.CommitTimestampMs);
        w.WriteBoolean("snapshot"u8, change.Operation == ChangeOperation.Read);
        w.WriteString("db"u8, _database);
        w.WriteString("schema"u8, table.JsonSchema);
        w.WriteString("table"u8, table.JsonName);
        WriteLsn(w, "lsn"u8, change.Lsn);
        w.WriteNumber("xid"u8, change.Transaction.Xid);
        w.WriteEndObject();

        if (transaction is { } block)
        {
            w.WriteStartObject("transaction"u8);
            w.WriteString("id"u8, block.Id);
            w.WriteNumber("total_order"u8, block.TotalOrder);
            w.WriteNumber("data_collection_order"u8, block.DataCollectionOrder);
            w.WriteEndObject();
        }

        w.WriteEndObject();
        return End();
    }

    /// <summary>The message key: a JSON object of the key columns, or null when the table has none.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public byte[]? SerializeKey(ChangeEvent change)
    {
        var table = change.Table;
        var keyColumns = table.KeyColumns;
        if (keyColumns.Length == 0 || change.Operation == ChangeOperation.Truncate)
            return null;

        // A DELETE carries the key in the old row; otherwise the new row has it, unless the key
        // column was an unchanged TOASTed value, which only the old row (if sent) can supply.
        var primary = change.After ?? change.Before!;
        var fallback = change.After is null ? null : change.Before;

        var w = Begin();
        w.WriteStartObject();
        foreach (var k in keyColumns)
        {
            var column = table.Columns[k];
            var i = table.RowIndex(k);
            var row = primary.Kind(i) == ValueKind.UnchangedToast && fallback is not null ? fallback : primary;
            w.WritePropertyName(column.JsonName);
            if (row.Kind(i) == ValueKind.Text)
                WriteValue(w, column, row.Value(i));
            else
                w.WriteNullValue();
        }

        w.WriteEndObject();
        return End();
    }

    private Utf8JsonWriter Begin()
    {
        _buffer.ResetWrittenCount();
        _writer.Reset(_buffer);
        return _writer;
    }

    private byte[] End()
    {
        _writer.Flush();
        return _buffer.WrittenSpan.ToArray();
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void WriteRow(Utf8JsonWriter w, TableInfo table, RowData row, RowData? fallback, bool identityOnly)
    {
        w.WriteStartObject();
        var columns = table.Columns;
        for (var c = 0; c < columns.Count; c++)
        {
            var column = columns[c];
            var i = table.RowIndex(c);
            if (i >= row.ColumnCount || (identityOnly && !column.IsReplicaIdentity))
                continue;

            var source = row;
            if (row.Kind(i) == ValueKind.UnchangedToast)
            {
                // PostgreSQL does not resend unchanged TOASTed values: leave the column out unless
                // REPLICA IDENTITY FULL sent the old value along.
                if (fallback is null || fallback.Kind(i) == ValueKind.UnchangedToast)
                    continue;
                source = fallback;
            }

            w.WritePropertyName(column.JsonName);
            if (source.Kind(i) == ValueKind.Null)
                w.WriteNullValue();
            else
                WriteValue(w, column, source.Value(i));
        }

        w.WriteEndObject();
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void WriteValue(Utf8JsonWriter w, ColumnInfo column, ReadOnlySpan<byte> text)
    {
        if (column.Mask is { } mask)
            mask.Write(w, text);
        else
            ValueWriter.Write(w, column.Type, text, _format);
    }

    private static JsonEncodedText OperationName(ChangeOperation operation) => operation switch
    {
        ChangeOperation.Insert => Insert,
        ChangeOperation.Update => Update,
        ChangeOperation.Delete => Delete,
        ChangeOperation.Read => Read,
        _ => Truncate,
    };

    /// <summary>Writes an LSN the way PostgreSQL prints it ("16/B374D848") without allocating.</summary>
    internal static void WriteLsn(Utf8JsonWriter w, ReadOnlySpan<byte> name, ulong lsn)
    {
        Span<byte> text = stackalloc byte[17];
        var hex = new StandardFormat('X');
        Utf8Formatter.TryFormat((uint)(lsn >> 32), text, out var high, hex);
        text[high] = (byte)'/';
        Utf8Formatter.TryFormat((uint)lsn, text[(high + 1)..], out var low, hex);
        w.WriteString(name, text[..(high + 1 + low)]);
    }
}
