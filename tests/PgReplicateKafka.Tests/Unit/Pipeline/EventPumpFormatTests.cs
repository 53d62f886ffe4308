using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Microsoft.Extensions.Logging.Abstractions;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Events;
using PgReplicateKafka.Events.Values;
using PgReplicateKafka.Metrics;
using PgReplicateKafka.Pipeline;
using PgReplicateKafka.Pipeline.Delivery;
using PgReplicateKafka.Sink;
using static PgReplicateKafka.Tests.Support.TestEvents;

namespace PgReplicateKafka.Tests.Unit.Pipeline;

/// <summary>What the pump makes of each change: the envelope, tombstones, key changes, headers, transaction records.</summary>
public class EventPumpFormatTests
{
    private static readonly TableInfo Orders = new(
        16390, "shop", "orders",
        [new ColumnInfo("id", TypeCatalog.Builtin.Resolve(23), isReplicaIdentity: true), new ColumnInfo("note", TypeCatalog.Builtin.Resolve(25), isReplicaIdentity: true)],
        identityIsFull: true, keyColumns: [0]);

    private readonly InMemoryProducer _producer = new();
    private readonly InFlightBudget _budget = new(1 << 20);
    private readonly DeliveryTracker _tracker;

    public EventPumpFormatTests() => _tracker = new DeliveryTracker(new ReplicatorMetrics(), _budget);

    private static ReplicatorConfig With(FormatConfig format, DeliveryGuarantee delivery = DeliveryGuarantee.AtLeastOnce)
    {
        var config = Config(delivery);
        return new ReplicatorConfig { Postgres = config.Postgres, Kafka = config.Kafka, Replication = config.Replication, Format = format };
    }

    private async Task PumpAsync(ReplicatorConfig config, params SourceMessage[] messages)
    {
        var channel = Channel.CreateUnbounded<SourceMessage>();
        foreach (var message in messages)
        {
            if (message is ChangeEvent change)
                _budget.Add(change.ByteSize);
            channel.Writer.TryWrite(message);
        }

        channel.Writer.Complete();
        IDeliveryMode delivery = config.Replication.Delivery == DeliveryGuarantee.ExactlyOnce
            ? new ExactlyOnceDelivery(config, _producer, new CheckpointStore(config, "7300000000000000001", NullLogger.Instance), _tracker, _budget, NullLogger.Instance)
            : new AtLeastOnceDelivery(_producer, _tracker);
        var pump = new EventPump(config, delivery, new TopicRouter("cdc"), _budget, new ReplicatorMetrics(), NullLogger.Instance);
        await pump.RunAsync(channel.Reader, CancellationToken.None);
    }

    private static ChangeEvent Update(SourceTransaction t, RowData? before, RowData after, ulong lsn = 2, TableInfo? table = null) =>
        new(table ?? Users, ChangeOperation.Update, lsn, t, before, after);

    private static ChangeEvent Delete(SourceTransaction t, int id, ulong lsn = 3) =>
        new(Users, ChangeOperation.Delete, lsn, t, Row(id.ToString(System.Globalization.CultureInfo.InvariantCulture), null), after: null);

    private static string Text(byte[]? bytes) => bytes is null ? "null" : Encoding.UTF8.GetString(bytes);

    private static JsonNode Value(InMemoryProducer.Message m) => JsonNode.Parse(m.Value!)!;

    [Fact]
    public async Task A_delete_is_followed_by_a_tombstone_with_its_key_unless_tombstones_are_off()
    {
        var t1 = Transaction(100);
        await PumpAsync(With(new FormatConfig()), Delete(t1, 7), new TransactionCommitted(t1));

        Assert.Equal(2, _producer.Produced.Count);
        Assert.Equal("DELETE", (string)Value(_producer.Produced[0])["op"]!);
        Assert.Equal("""{"id":7}""", Text(_producer.Produced[1].Key));
        Assert.Null(_producer.Produced[1].Value);
        Assert.Equal("cdc.public.users", _producer.Produced[1].Topic);
        Assert.Equal("DELETE", _producer.Produced[1].Header("pgrk.op"));
        _producer.AcknowledgeAll();
        Assert.Equal(100ul, _tracker.ConfirmedLsn); // the tombstone is acknowledged like any event
        Assert.Equal(0, _budget.Bytes);

        var off = new InMemoryProducer();
        var tracker = new DeliveryTracker(new ReplicatorMetrics(), _budget);
        var t2 = Transaction(200);
        var channel = Channel.CreateUnbounded<SourceMessage>();
        channel.Writer.TryWrite(Delete(t2, 8));
        channel.Writer.Complete();
        await new EventPump(With(new FormatConfig { Tombstones = false }), new AtLeastOnceDelivery(off, tracker), new TopicRouter("cdc"), _budget, new ReplicatorMetrics(), NullLogger.Instance)
            .RunAsync(channel.Reader, CancellationToken.None);
        Assert.Single(off.Produced);
    }

    [Fact]
    public async Task A_key_change_is_a_delete_of_the_old_key_its_tombstone_and_an_insert_under_the_new_key()
    {
        var t1 = Transaction(100);
        // REPLICA IDENTITY DEFAULT: the old row holds only the key.
        await PumpAsync(With(new FormatConfig()), Update(t1, before: Row("2", null), after: Row("3", "bob")), new TransactionCommitted(t1));

        var produced = _producer.Produced;
        Assert.Equal(3, produced.Count);
        Assert.Equal(["""{"id":2}""", """{"id":2}""", """{"id":3}"""], produced.Select(m => Text(m.Key)));
        Assert.Equal("DELETE", (string)Value(produced[0])["op"]!);
        Assert.Equal("""{"id":2}""", Value(produced[0])["before"]!.ToJsonString());
        Assert.Null(Value(produced[0])["after"]);
        Assert.Null(produced[1].Value);
        Assert.Equal("INSERT", (string)Value(produced[2])["op"]!);
        Assert.Null(Value(produced[2])["before"]);
        Assert.Equal("""{"id":3,"name":"bob"}""", Value(produced[2])["after"]!.ToJsonString());
        Assert.Equal("""{"id":3}""", produced[0].Header("pgrk.newkey"));
        Assert.Equal("""{"id":2}""", produced[2].Header("pgrk.oldkey"));
        Assert.Null(produced[2].Header("pgrk.newkey"));
        _producer.AcknowledgeAll();
        Assert.Equal(100ul, _tracker.ConfirmedLsn);
        Assert.Equal(0, _budget.Bytes);
    }

    [Fact]
    public async Task Under_full_identity_an_update_that_keeps_the_key_stays_one_update_and_one_that_changes_it_is_split()
    {
        var t1 = Transaction(100);
        await PumpAsync(
            With(new FormatConfig { Tombstones = false }),
            Update(t1, before: Row("1", "a"), after: Row("1", "b"), table: Orders),
            Update(t1, before: Row("1", "b"), after: Row("5", "b"), lsn: 3, table: Orders),
            new TransactionCommitted(t1));

        Assert.Equal(["UPDATE", "DELETE", "INSERT"], _producer.Produced.Select(m => (string)Value(m)["op"]!));
        Assert.Equal("""{"id":1,"note":"b"}""", Value(_producer.Produced[1])["before"]!.ToJsonString());
    }

    [Fact]
    public async Task The_debezium_envelope_writes_c_u_d_and_splits_a_key_change_with_debeziums_headers()
    {
        var t1 = Transaction(100);
        var config = With(new FormatConfig { Envelope = EnvelopeFormat.Debezium });
        await PumpAsync(config, Insert(t1, 1, "ada"), Update(t1, null, Row("1", "eve")), Update(t1, Row("1", null), Row("4", "eve")), Delete(t1, 4), new TransactionCommitted(t1));

        var produced = _producer.Produced;
        Assert.Equal(["c", "u", "d", null, "c", "d", null], produced.Select(m => m.Value is null ? null : (string?)Value(m)["op"]));
        Assert.Equal("postgresql", (string)Value(produced[0])["source"]!["connector"]!);
        Assert.Equal("cdc", (string)Value(produced[0])["source"]!["name"]!);
        Assert.Equal("""{"id":4}""", produced[2].Header("__debezium.newkey"));
        Assert.Equal("""{"id":1}""", produced[4].Header("__debezium.oldkey"));
        Assert.Equal(["c", "u", "d", "d", "c", "d", "d"], produced.Select(m => m.Header("pgrk.op")));
    }

    [Fact]
    public async Task Every_message_carries_op_table_lsn_xid_and_commit_time_headers()
    {
        var t1 = new SourceTransaction(4711, new DateTime(2024, 5, 6, 7, 8, 9, 123, DateTimeKind.Utc)) { EndLsn = 100 };
        await PumpAsync(With(new FormatConfig()), Insert(t1, 1, "ada", lsn: 0x16_B374_D848), new TransactionCommitted(t1));

        var message = Assert.Single(_producer.Produced);
        Assert.Equal("INSERT", message.Header("pgrk.op"));
        Assert.Equal("public.users", message.Header("pgrk.table"));
        Assert.Equal("16/B374D848", message.Header("pgrk.lsn"));
        Assert.Equal("4711", message.Header("pgrk.xid"));
        Assert.Equal("1714979289123", message.Header("pgrk.commit_ts_ms"));
        Assert.Equal(5, message.Headers!.Count);
    }

    [Fact]
    public async Task Header_sets_filled_again_for_each_change_carry_that_changes_own_values()
    {
        // The pump fills the same header sets and LSN buffer for every change: each message must still carry its own.
        var t1 = new SourceTransaction(4711, DateTime.UnixEpoch) { EndLsn = 100 };
        var t2 = new SourceTransaction(4712, DateTime.UnixEpoch.AddMilliseconds(5)) { EndLsn = 200 };
        await PumpAsync(
            With(new FormatConfig()),
            Insert(t1, 1, "ada", lsn: 0x1_0000_00A0), Insert(t1, 2, "bob", lsn: 0x1_0000_00A0), Delete(t1, 1, lsn: 0xB0), new TransactionCommitted(t1),
            Update(t2, before: Row("2", "bob"), after: Row("3", "bob"), lsn: 0x2_0000_0000), new TransactionCommitted(t2));

        var produced = _producer.Produced;
        Assert.Equal(["INSERT", "INSERT", "DELETE", "DELETE", "DELETE", "DELETE", "INSERT"], produced.Select(m => m.Header("pgrk.op")));
        Assert.Equal(["1/A0", "1/A0", "0/B0", "0/B0", "2/0", "2/0", "2/0"], produced.Select(m => m.Header("pgrk.lsn")));
        Assert.Equal(["4711", "4711", "4711", "4711", "4712", "4712", "4712"], produced.Select(m => m.Header("pgrk.xid")));
        Assert.Equal(["0", "0", "0", "0", "5", "5", "5"], produced.Select(m => m.Header("pgrk.commit_ts_ms")));
        Assert.Equal([5, 5, 5, 5, 6, 5, 6], produced.Select(m => m.Headers!.Count));
    }

    [Fact]
    public async Task The_transaction_topic_gets_begin_and_end_with_counts_and_each_event_its_block()
    {
        var t1 = new SourceTransaction(42, DateTime.UtcNow) { EndLsn = 500 };
        var t2 = Transaction(600);
        var config = With(new FormatConfig { TransactionTopic = "cdc.transactions" });
        await PumpAsync(
            config,
            Insert(t1, 1, "ada", lsn: 300), Update(t1, before: Row("1", "ada"), after: Row("1", "x"), lsn: 310, table: Orders), Insert(t1, 2, "bob", lsn: 320),
            new TransactionCommitted(t1),
            new TransactionCommitted(t2)); // no published change: no records

        var produced = _producer.Produced;
        Assert.Equal(["cdc.transactions", "cdc.public.users", "cdc.shop.orders", "cdc.public.users", "cdc.transactions"], produced.Select(m => m.Topic));
        Assert.Equal("""{"id":"42:300"}""", Text(produced[0].Key));
        Assert.Equal("""{"id":"42:300"}""", Text(produced[4].Key));
        var begin = Value(produced[0]);
        Assert.Equal("BEGIN", (string)begin["status"]!);
        Assert.Null(begin["event_count"]);
        Assert.Equal(t1.CommitTimestampMs, (long)begin["ts_ms"]!);
        Assert.Equal(
            """{"status":"END","id":"42:300","event_count":3,"data_collections":[{"data_collection":"public.users","event_count":2},{"data_collection":"shop.orders","event_count":1}],"ts_ms":""" + t1.CommitTimestampMs + "}",
            Text(produced[4].Value));
        Assert.Equal("""{"id":"42:300","total_order":3,"data_collection_order":2}""", Value(produced[3])["transaction"]!.ToJsonString());
        Assert.Equal("""{"id":"42:300","total_order":2,"data_collection_order":1}""", Value(produced[2])["transaction"]!.ToJsonString());
        Assert.Equal("BEGIN", produced[0].Header("pgrk.op"));
        Assert.Equal("END", produced[4].Header("pgrk.op"));
        Assert.Equal("42", produced[4].Header("pgrk.xid"));

        _producer.AcknowledgeAll();
        Assert.Equal(600ul, _tracker.ConfirmedLsn);
        Assert.Equal(0, _budget.Bytes);
    }

    [Fact]
    public async Task Without_a_transaction_topic_native_events_have_no_transaction_field()
    {
        var t1 = Transaction(100);
        await PumpAsync(With(new FormatConfig()), Insert(t1, 1, "ada"), new TransactionCommitted(t1));
        Assert.False(Value(Assert.Single(_producer.Produced)).AsObject().ContainsKey("transaction"));
    }

    [Fact]
    public async Task Under_exactly_once_the_transaction_records_and_tombstones_are_in_the_kafka_transaction()
    {
        var t1 = Transaction(100);
        var config = With(new FormatConfig { TransactionTopic = "cdc.transactions" }, DeliveryGuarantee.ExactlyOnce);
        await PumpAsync(config, Delete(t1, 1), new TransactionCommitted(t1));

        Assert.Equal(["begin", "commit"], _producer.Calls); // InitTransactions belongs to Resume, at the session start
        Assert.Equal(["cdc.transactions", "cdc.public.users", "cdc.public.users", "cdc.transactions", new CheckpointStore(config, "7300000000000000001", NullLogger.Instance).Topic],
            _producer.Committed.Select(m => m.Topic));
        Assert.All(_producer.Committed, m => Assert.Equal(1, m.TransactionNumber));
    }
}
