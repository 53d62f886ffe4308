using System.Text;
using System.Text.Json.Nodes;
using PgReplicateKafka.Events;
using PgReplicateKafka.Events.Debezium;
using static PgReplicateKafka.Tests.Unit.Events.DebeziumTestSupport;

namespace PgReplicateKafka.Tests.Unit.Events;

// Golden events after the customers examples of Debezium's PostgreSQL connector documentation
// (documentation/modules/ROOT/pages/connectors/postgresql.adoc, "Data change events"), field by field.
// Where the documentation's hand-written JSON disagrees with what the connector's code emits, the code wins:
// source.snapshot is the io.debezium.data.Enum string ("true"/"false"), the source struct also has origin and
// origin_lsn, the schema names use the PostgreSQL schema ("public", the doc mixes in "inventory"), and
// JsonConverter writes every struct field, so columns not sent (and "transaction") appear as null.
public class DebeziumEnvelopeTests
{
    private static readonly string V = ProductInfo.Version;

    private static string Source(string ts, long txId, long lsn, string snapshot = "false", string sequence = "null") => $$"""
        {"version":"{{V}}","connector":"postgresql","name":"PostgreSQL_server","ts_ms":{{ts[..13]}},"snapshot":"{{snapshot}}",
         "db":"postgres","sequence":{{sequence}},"ts_us":{{ts}},"ts_ns":{{ts}}000,"schema":"public","table":"customers",
         "txId":{{txId}},"lsn":{{lsn}},"xmin":null,"origin":null,"origin_lsn":null}
        """;

    // "create events": the payload of the value example.
    [Fact]
    public void Create()
    {
        var change = new ChangeEvent(Customers(), ChangeOperation.Insert, 24_023_128, Transaction(555, 1_559_033_904_863_123), null,
            Row("1", "Anne", "Kretchmar", "annek@noanswer.org"));
        AssertJson($$"""
            {"before":null,
             "after":{"id":1,"first_name":"Anne","last_name":"Kretchmar","email":"annek@noanswer.org"},
             "source":{{Source("1559033904863123", 555, 24_023_128, sequence: "\"[\\\"24023119\\\",\\\"24023128\\\"]\"")}},
             "op":"c","ts_ms":1559033904863,"ts_us":1559033904863841,"ts_ns":1559033904863841000,"transaction":null}
            """, Value(Options, change, 1_559_033_904_863_841, lastCommitLsn: 24_023_119));
    }

    // "update events": REPLICA IDENTITY DEFAULT, the old row holds only the key.
    [Fact]
    public void Update()
    {
        var change = new ChangeEvent(Customers(), ChangeOperation.Update, 24_023_128, Transaction(556, 1_559_033_904_863_769),
            Row("1", null, null, null), Row("1", "Anne Marie", "Kretchmar", "annek@noanswer.org"));
        AssertJson($$"""
            {"before":{"id":1,"first_name":null,"last_name":null,"email":null},
             "after":{"id":1,"first_name":"Anne Marie","last_name":"Kretchmar","email":"annek@noanswer.org"},
             "source":{{Source("1559033904863769", 556, 24_023_128, sequence: "\"[null,\\\"24023128\\\"]\"")}},
             "op":"u","ts_ms":1465584025523,"ts_us":1465584025523514,"ts_ns":1465584025523514000,"transaction":null}
            """, Value(Options, change, 1_465_584_025_523_514));
    }

    // "delete events".
    [Fact]
    public void Delete()
    {
        var change = new ChangeEvent(Customers(), ChangeOperation.Delete, 46_523_128, Transaction(556, 1_559_033_904_863_852),
            Row("1", null, null, null), null);
        AssertJson($$"""
            {"before":{"id":1,"first_name":null,"last_name":null,"email":null},"after":null,
             "source":{{Source("1559033904863852", 556, 46_523_128, sequence: "\"[null,\\\"46523128\\\"]\"")}},
             "op":"d","ts_ms":1465581902461,"ts_us":1465581902461496,"ts_ns":1465581902461496000,"transaction":null}
            """, Value(Options, change, 1_465_581_902_461_496));
        AssertJson("""{"id":1}""", JsonNode.Parse(new DebeziumSerializer(Options).SerializeKey(change)!));
    }

    // The create example again, as a snapshot read: op "r" and source.snapshot "true".
    [Fact]
    public void Read()
    {
        var change = new ChangeEvent(Customers(), ChangeOperation.Read, 24_023_128, Transaction(555, 1_559_033_904_863_123), null,
            Row("1", "Anne", "Kretchmar", "annek@noanswer.org"));
        var value = Value(Options, change, 1_559_033_904_863_841);
        Assert.Equal("r", (string?)value["op"]);
        Assert.Equal("true", (string?)value["source"]!["snapshot"]);
        AssertJson("""{"id":1,"first_name":"Anne","last_name":"Kretchmar","email":"annek@noanswer.org"}""", value["after"]);
    }

    // "truncate events": no key, no row.
    [Fact]
    public void Truncate()
    {
        var change = new ChangeEvent(Customers(), ChangeOperation.Truncate, 46_523_128, Transaction(556, 1_559_033_904_863_112), null, null);
        AssertJson($$"""
            {"before":null,"after":null,
             "source":{{Source("1559033904863112", 556, 46_523_128, sequence: "\"[null,\\\"46523128\\\"]\"")}},
             "op":"t","ts_ms":1559033904961,"ts_us":1559033904961654,"ts_ns":1559033904961654000,"transaction":null}
            """, Value(Options, change, 1_559_033_904_961_654));
        Assert.Null(new DebeziumSerializer(Options).SerializeKey(change));
    }

    // "Transaction metadata": the enriched message's transaction block.
    [Fact]
    public void TransactionBlock()
    {
        var change = new ChangeEvent(Customers(), ChangeOperation.Insert, 53_195_832, Transaction(571, 1_580_390_884_335_000), null,
            Row("2", "a", "b", "c"));
        var value = Value(Options, change, 1_580_390_884_335_451, new DebeziumTransactionBlock("571:53195832", 1, 1));
        AssertJson("""{"id":"571:53195832","total_order":1,"data_collection_order":1}""", value["transaction"]);
    }

    // "Change event keys": the key example with schemas, as JsonConverter prints it (the doc's "index" and
    // upper-case "INT32" are not JsonConverter output).
    [Fact]
    public void KeyWithSchema()
    {
        var change = new ChangeEvent(Customers(), ChangeOperation.Insert, 1, Transaction(1, 0), null, Row("1", "a", "b", "c"));
        var key = new DebeziumSerializer(Options with { Schemas = true }).SerializeKey(change)!;
        AssertJson("""
            {"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"}],
                       "optional":false,"name":"PostgreSQL_server.public.customers.Key"},
             "payload":{"id":1}}
            """, JsonNode.Parse(key));
    }

    // "create events": the value schema. Differences to the doc's listing follow the connector's code
    // (SchemaFactory, PostgresSourceInfoStructMaker, Envelope): source field order and its snapshot enum, ts_us/ts_ns
    // optional, origin fields, envelope version 2 and the transaction block. Columns other than the key are
    // optional because pgoutput does not tell NOT NULL.
    [Fact]
    public void ValueSchema()
    {
        var change = new ChangeEvent(Customers(), ChangeOperation.Insert, 1, Transaction(1, 0), null, Row("1", "a", "b", "c"));
        var value = Value(Options with { Schemas = true }, change, 0);
        const string RowSchema = """
            {"type":"struct","fields":[
                {"type":"int32","optional":false,"field":"id"},
                {"type":"string","optional":true,"field":"first_name"},
                {"type":"string","optional":true,"field":"last_name"},
                {"type":"string","optional":true,"field":"email"}],
             "optional":true,"name":"PostgreSQL_server.public.customers.Value","field":"{0}"}
            """;
        AssertJson($$"""
            {"type":"struct","fields":[
              {{RowSchema.Replace("{0}", "before")}},
              {{RowSchema.Replace("{0}", "after")}},
              {"type":"struct","fields":[
                {"type":"string","optional":false,"field":"version"},
                {"type":"string","optional":false,"field":"connector"},
                {"type":"string","optional":false,"field":"name"},
                {"type":"int64","optional":false,"field":"ts_ms"},
                {"type":"string","optional":true,"name":"io.debezium.data.Enum","version":1,
                 "parameters":{"allowed":"true,first,first_in_data_collection,last_in_data_collection,last,false,incremental"},
                 "default":"false","field":"snapshot"},
                {"type":"string","optional":false,"field":"db"},
                {"type":"string","optional":true,"field":"sequence"},
                {"type":"int64","optional":true,"field":"ts_us"},
                {"type":"int64","optional":true,"field":"ts_ns"},
                {"type":"string","optional":false,"field":"schema"},
                {"type":"string","optional":false,"field":"table"},
                {"type":"int64","optional":true,"field":"txId"},
                {"type":"int64","optional":true,"field":"lsn"},
                {"type":"int64","optional":true,"field":"xmin"},
                {"type":"string","optional":true,"field":"origin"},
                {"type":"int64","optional":true,"field":"origin_lsn"}],
               "optional":false,"name":"io.debezium.connector.postgresql.Source","version":1,"field":"source"},
              {"type":"string","optional":false,"field":"op"},
              {"type":"int64","optional":true,"field":"ts_ms"},
              {"type":"int64","optional":true,"field":"ts_us"},
              {"type":"int64","optional":true,"field":"ts_ns"},
              {"type":"struct","fields":[
                {"type":"string","optional":false,"field":"id"},
                {"type":"int64","optional":false,"field":"total_order"},
                {"type":"int64","optional":false,"field":"data_collection_order"}],
               "optional":true,"name":"event.block","version":1,"field":"transaction"}],
             "optional":false,"name":"PostgreSQL_server.public.customers.Envelope","version":2}
            """, value["schema"]);
        AssertJson("""{"id":1,"first_name":"a","last_name":"b","email":"c"}""", value["payload"]!["after"]);
    }

    // The schema is rendered once per TableInfo, and its property order is JsonConverter's.
    [Fact]
    public void SchemaIsCachedPerTableAndOrdered()
    {
        var table = Customers();
        var serializer = new DebeziumSerializer(Options with { Schemas = true });
        var first = new ChangeEvent(table, ChangeOperation.Insert, 1, Transaction(1, 0), null, Row("1", "a", "b", "c"));
        var second = new ChangeEvent(table, ChangeOperation.Insert, 2, Transaction(1, 0), null, Row("2", "d", "e", "f"));
        var a = Encoding.UTF8.GetString(serializer.SerializeValue(first, 0));
        var b = Encoding.UTF8.GetString(serializer.SerializeValue(second, 0));
        Assert.Equal(a[..a.IndexOf("\"payload\"", StringComparison.Ordinal)], b[..b.IndexOf("\"payload\"", StringComparison.Ordinal)]);
        Assert.StartsWith("""{"schema":{"type":"struct","fields":[{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"}""", a, StringComparison.Ordinal);
    }

    // "Toasted values": an unchanged TOASTed column gets Debezium's default placeholder.
    [Fact]
    public void UnchangedToastIsThePlaceholder()
    {
        var change = new ChangeEvent(Customers(), ChangeOperation.Update, 1, Transaction(1, 0), null, Row("1", Toast, "b", "c"));
        Assert.Equal("__debezium_unavailable_value", (string?)Value(Options, change, 0)["after"]!["first_name"]);
    }
}
