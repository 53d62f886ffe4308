using System.Text;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Events;
using PgReplicateKafka.Events.Values;

namespace PgReplicateKafka.Tests.Support;

/// <summary>Change events built in memory, as the replication stream would hand them over.</summary>
public static class TestEvents
{
    public static readonly TableInfo Users = new(
        16384, "public", "users",
        [new ColumnInfo("id", TypeCatalog.Builtin.Resolve(23), isReplicaIdentity: true), new ColumnInfo("name", TypeCatalog.Builtin.Resolve(25), isReplicaIdentity: false)],
        identityIsFull: false, keyColumns: [0]);

    public static SourceTransaction Transaction(ulong endLsn) => new(xid: (uint)endLsn, DateTime.UtcNow) { EndLsn = endLsn };

    public static ChangeEvent Insert(SourceTransaction transaction, int id, string name, ulong lsn = 1) =>
        new(Users, ChangeOperation.Insert, lsn, transaction, before: null, after: Row(id.ToString(System.Globalization.CultureInfo.InvariantCulture), name));

    public static RowData Row(params string?[] values)
    {
        var row = new RowData(values.Length, 64);
        for (var i = 0; i < values.Length; i++)
        {
            if (values[i] is not { } text)
            {
                row.SetNull(i);
                continue;
            }

            Encoding.UTF8.GetBytes(text, row.ReserveText(i, Encoding.UTF8.GetByteCount(text)).Span);
        }

        return row;
    }

    public static ReplicatorConfig Config(DeliveryGuarantee delivery = DeliveryGuarantee.AtLeastOnce, int transactionMaxEvents = 10_000, OversizedPolicy oversized = OversizedPolicy.Fail) => new()
    {
        Postgres = new PostgresConfig { Database = "shop", Username = "u", Publication = "pub" },
        Kafka = new KafkaConfig { Brokers = ["localhost:9092"], TopicPrefix = "cdc", Oversized = oversized },
        Replication = new ReplicationConfig { Delivery = delivery, TransactionMaxEvents = transactionMaxEvents, TransactionMaxMs = 60_000 },
    };
}
