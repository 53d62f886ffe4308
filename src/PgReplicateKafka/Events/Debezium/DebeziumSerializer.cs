using System.Buffers;
using System.Buffers.Text;
using System.Runtime.CompilerServices;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace PgReplicateKafka.Events.Debezium;

/// <summary>
/// Writes a change event's Kafka key and value as Debezium's PostgreSQL connector does, printed by Kafka Connect's
/// JsonConverter. One instance per thread: it reuses one buffer and one <see cref="Utf8JsonWriter"/> for every event.
/// </summary>
public sealed class DebeziumSerializer
{
    internal static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static readonly JsonEncodedText Version = JsonEncodedText.Encode(ProductInfo.Version);
    private static readonly JsonEncodedText True = JsonEncodedText.Encode("true");
    private static readonly JsonEncodedText False = JsonEncodedText.Encode("false");

    private readonly DebeziumOptions _options;
    private readonly DebeziumValueWriter _values = new();
    private readonly JsonEncodedText _name;
    private readonly JsonEncodedText _database;
    private readonly ArrayBufferWriter<byte> _buffer = new(4096);
    private readonly Utf8JsonWriter _writer;

    // Keyed weakly: a RELATION message replaces the TableInfo, and the old mapping goes with it.
    private readonly ConditionalWeakTable<TableInfo, DebeziumTable> _tables = [];

    public DebeziumSerializer(DebeziumOptions options)
    {
        _options = options;
        _name = JsonEncodedText.Encode(options.TopicPrefix);
        _database = JsonEncodedText.Encode(options.Database);
        _writer = new Utf8JsonWriter(_buffer, WriterOptions);
    }

    /// <summary>The key struct of the key columns; null for truncates and tables without a key, as Debezium.</summary>
    // Runs per change: compiled optimized at its first call, not after seconds of tier 0 (see EventPump).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public byte[]? SerializeKey(ChangeEvent change)
    {
        var table = change.Table;
        if (table.KeyColumns.Length == 0 || change.Operation == ChangeOperation.Truncate)
        {
            return null;
        }

        var mapping = Mapping(table);
        var w = Begin();
        var wrapped = BeginSchema(w, mapping.KeySchema);

        // A DELETE carries the key in the old row; otherwise the new row has it, unless the key column was an
        // unchanged TOASTed value, which only the old row (if sent) can supply.
        var primary = change.After ?? change.Before!;
        var fallback = change.After is null ? null : change.Before;
        w.WriteStartObject();
        foreach (var k in table.KeyColumns)
        {
            w.WritePropertyName(table.Columns[k].JsonName);
            WriteColumn(w, mapping.Fields[k], table.Columns[k], table.RowIndex(k), primary, fallback, identityOnly: false);
        }

        w.WriteEndObject();
        EndSchema(w, wrapped);
        return End();
    }

    /// <summary>The envelope.</summary>
    /// <param name="change">The change.</param>
    /// <param name="nowUs">Processing time in microseconds since the epoch: the envelope's ts_ms, ts_us and ts_ns.</param>
    /// <param name="transaction">The transaction block, when transaction metadata is produced; null writes null.</param>
    /// <param name="lastCommitLsn">End LSN of the last transaction committed before this one, the first entry of
    /// <c>source.sequence</c>; 0 when unknown (written as null).</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public byte[] SerializeValue(ChangeEvent change, long nowUs, DebeziumTransactionBlock? transaction = null, ulong lastCommitLsn = 0)
    {
        var table = change.Table;
        var mapping = Mapping(table);
        var w = Begin();
        var wrapped = BeginSchema(w, mapping.ValueSchema);
        w.WriteStartObject();

        w.WritePropertyName("before"u8);
        if (change.Before is { } before)
            WriteRow(w, table, mapping, before, fallback: null, identityOnly: !table.IdentityIsFull);
        else
            w.WriteNullValue();

        w.WritePropertyName("after"u8);
        if (change.After is { } after)
            WriteRow(w, table, mapping, after, fallback: change.Before, identityOnly: false);
        else
            w.WriteNullValue();

        WriteSource(w, change, lastCommitLsn);
        w.WriteString("op"u8, OperationCode(change.Operation));
        w.WriteNumber("ts_ms"u8, FloorDiv(nowUs, 1000));
        w.WriteNumber("ts_us"u8, nowUs);
        w.WriteNumber("ts_ns"u8, nowUs * 1000);
        if (transaction is { } block)
        {
            w.WriteStartObject("transaction"u8);
            w.WriteString("id"u8, block.Id);
            w.WriteNumber("total_order"u8, block.TotalOrder);
            w.WriteNumber("data_collection_order"u8, block.DataCollectionOrder);
            w.WriteEndObject();
        }
        else
        {
            w.WriteNull("transaction"u8);
        }

        w.WriteEndObject();
        EndSchema(w, wrapped);
        return End();
    }

    private DebeziumTable Mapping(TableInfo table) => _tables.GetValue(table, t => new DebeziumTable(t, _options));

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

    // JsonConverter with schemas.enable=true: {"schema": ..., "payload": ...}.
    private bool BeginSchema(Utf8JsonWriter w, byte[]? schema)
    {
        if (!_options.Schemas)
        {
            return false;
        }

        w.WriteStartObject();
        w.WritePropertyName("schema"u8);
        w.WriteRawValue(schema!, skipInputValidation: true);
        w.WritePropertyName("payload"u8);
        return true;
    }

    private static void EndSchema(Utf8JsonWriter w, bool wrapped)
    {
        if (wrapped)
        {
            w.WriteEndObject();
        }
    }

    // JsonConverter writes every field of the row struct, so columns PostgreSQL did not send are null.
    private void WriteRow(Utf8JsonWriter w, TableInfo table, DebeziumTable mapping, RowData row, RowData? fallback, bool identityOnly)
    {
        w.WriteStartObject();
        var columns = table.Columns;
        for (var c = 0; c < columns.Count; c++)
        {
            w.WritePropertyName(columns[c].JsonName);
            WriteColumn(w, mapping.Fields[c], columns[c], table.RowIndex(c), row, fallback, identityOnly);
        }

        w.WriteEndObject();
    }

    // i: where the column's value is in the row (a projected table leaves columns out).
    private void WriteColumn(Utf8JsonWriter w, DebeziumField field, ColumnInfo column, int i, RowData row, RowData? fallback, bool identityOnly)
    {
        if (i >= row.ColumnCount || (identityOnly && !column.IsReplicaIdentity))
        {
            w.WriteNullValue();
            return;
        }

        var source = row;
        if (row.Kind(i) == ValueKind.UnchangedToast)
        {
            // REPLICA IDENTITY FULL sends the old value along; otherwise Debezium's placeholder stands in.
            if (fallback is null || i >= fallback.ColumnCount || fallback.Kind(i) == ValueKind.UnchangedToast)
            {
                DebeziumValueWriter.WriteUnavailable(w, field);
                return;
            }

            source = fallback;
        }

        if (source.Kind(i) == ValueKind.Null)
            w.WriteNullValue();
        else if (column.Mask is { } mask)
            mask.Write(w, source.Value(i));
        else
            _values.Write(w, field, source.Value(i));
    }

    private void WriteSource(Utf8JsonWriter w, ChangeEvent change, ulong lastCommitLsn)
    {
        var table = change.Table;
        var commitUs = (change.Transaction.CommitTimestamp.Ticks - DateTime.UnixEpoch.Ticks) / TimeSpan.TicksPerMicrosecond;
        w.WriteStartObject("source"u8);
        w.WriteString("version"u8, Version);
        w.WriteString("connector"u8, "postgresql"u8);
        w.WriteString("name"u8, _name);
        w.WriteNumber("ts_ms"u8, FloorDiv(commitUs, 1000));
        w.WriteString("snapshot"u8, change.Operation == ChangeOperation.Read ? True : False);
        w.WriteString("db"u8, _database);
        WriteSequence(w, lastCommitLsn, change.Lsn);
        w.WriteNumber("ts_us"u8, commitUs);
        w.WriteNumber("ts_ns"u8, commitUs * 1000);
        w.WriteString("schema"u8, table.JsonSchema);
        w.WriteString("table"u8, table.JsonName);
        w.WriteNumber("txId"u8, change.Transaction.Xid);
        w.WriteNumber("lsn"u8, change.Lsn);
        w.WriteNull("xmin"u8);
        w.WriteNull("origin"u8);
        w.WriteNull("origin_lsn"u8);
        w.WriteEndObject();
    }

    // Debezium's sequence: a JSON array in a string, ["<last commit LSN>","<LSN>"], LSNs in decimal, null if unknown.
    private static void WriteSequence(Utf8JsonWriter w, ulong lastCommitLsn, ulong lsn)
    {
        Span<byte> text = stackalloc byte[48];
        var pos = 0;
        text[pos++] = (byte)'[';
        AppendLsn(text, ref pos, lastCommitLsn);
        text[pos++] = (byte)',';
        AppendLsn(text, ref pos, lsn);
        text[pos++] = (byte)']';
        w.WriteString("sequence"u8, text[..pos]);
    }

    private static void AppendLsn(Span<byte> text, ref int pos, ulong lsn)
    {
        if (lsn == 0)
        {
            "null"u8.CopyTo(text[pos..]);
            pos += 4;
            return;
        }

        text[pos++] = (byte)'"';
        Utf8Formatter.TryFormat(lsn, text[pos..], out var written);
        pos += written;
        text[pos++] = (byte)'"';
    }

    private static long FloorDiv(long value, long divisor) => Math.DivRem(value, divisor, out var rem) - (rem < 0 ? 1 : 0);

    private static ReadOnlySpan<byte> OperationCode(ChangeOperation operation) => operation switch
    {
        ChangeOperation.Insert => "c"u8,
        ChangeOperation.Update => "u"u8,
        ChangeOperation.Delete => "d"u8,
        ChangeOperation.Read => "r"u8,
        _ => "t"u8,
    };
}
