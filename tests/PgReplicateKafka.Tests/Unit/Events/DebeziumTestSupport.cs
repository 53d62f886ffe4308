using System.Text;
using System.Text.Json.Nodes;
using PgReplicateKafka.Events;
using PgReplicateKafka.Events.Debezium;
using PgReplicateKafka.Events.Values;

namespace PgReplicateKafka.Tests.Unit.Events;

/// <summary>Builds events from PostgreSQL text values and compares Debezium JSON structurally.</summary>
internal static class DebeziumTestSupport
{
    /// <summary>Stands for an unchanged TOASTed value in a row.</summary>
    public const string Toast = "\u0000toast";

    public static readonly DebeziumOptions Options = new("PostgreSQL_server", "postgres");

    public static ColumnInfo Column(string name, uint oid, int typeModifier = -1, bool identity = false) =>
        new(name, TypeCatalog.Builtin.Resolve(oid), identity, typeModifier);

    public static ColumnInfo Column(string name, PgType type, int typeModifier = -1) => new(name, type, false, typeModifier);

    public static TableInfo Table(string name, params ColumnInfo[] columns)
    {
        var key = Enumerable.Range(0, columns.Length).Where(i => columns[i].IsReplicaIdentity).ToArray();
        return new TableInfo(16_400, "public", name, columns, identityIsFull: false, key);
    }

    /// <summary>The documentation's customers table: id SERIAL PRIMARY KEY, then three VARCHAR(255) NOT NULL.</summary>
    public static TableInfo Customers() => Table(
        "customers",
        Column("id", 23, identity: true),
        Column("first_name", 1043, 259),
        Column("last_name", 1043, 259),
        Column("email", 1043, 259));

    public static RowData Row(params string?[] values)
    {
        var row = new RowData(values.Length, 64);
        for (var i = 0; i < values.Length; i++)
        {
            if (values[i] is null)
            {
                row.SetNull(i);
            }
            else if (values[i] == Toast)
            {
                row.SetUnchangedToast(i);
            }
            else
            {
                var bytes = Encoding.UTF8.GetBytes(values[i]!);
                bytes.CopyTo(row.ReserveText(i, bytes.Length).Span);
            }
        }

        return row;
    }

    /// <summary>A transaction committed at <paramref name="commitUs"/> microseconds since the epoch.</summary>
    public static SourceTransaction Transaction(uint xid, long commitUs) =>
        new(xid, DateTime.UnixEpoch.AddTicks(commitUs * TimeSpan.TicksPerMicrosecond));

    public static JsonNode Value(DebeziumOptions options, ChangeEvent change, long nowUs, DebeziumTransactionBlock? transaction = null, ulong lastCommitLsn = 0) =>
        JsonNode.Parse(new DebeziumSerializer(options).SerializeValue(change, nowUs, transaction, lastCommitLsn))!;

    /// <summary>The value written for one column of a one-column table, from the after row of an insert.</summary>
    public static JsonNode? Single(ColumnInfo column, string? text, DebeziumOptions? options = null) =>
        SingleSchemaAndValue(column, text, options).Value;

    /// <summary>The column's value and its field schema (from the envelope's "after" struct).</summary>
    public static (JsonNode? Schema, JsonNode? Value) SingleSchemaAndValue(ColumnInfo column, string? text, DebeziumOptions? options = null)
    {
        var table = Table("t", column);
        var change = new ChangeEvent(table, ChangeOperation.Insert, 1, Transaction(1, 0), null, Row(text));
        var envelope = Value((options ?? Options) with { Schemas = true }, change, 0);
        var schema = envelope["schema"]!["fields"]![1]!["fields"]![0];
        return (schema, envelope["payload"]!["after"]![column.Name]);
    }

    public static void AssertJson(string expected, JsonNode? actual)
    {
        var expectedNode = JsonNode.Parse(expected);
        Assert.True(JsonNode.DeepEquals(expectedNode, actual), $"expected {expectedNode?.ToJsonString()}\nactual   {actual?.ToJsonString()}");
    }
}
