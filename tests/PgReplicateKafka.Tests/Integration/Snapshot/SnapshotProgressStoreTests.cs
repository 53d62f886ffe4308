using Confluent.Kafka;
using Microsoft.Extensions.Logging.Abstractions;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Sink;

namespace PgReplicateKafka.Tests.Integration.Snapshot;

[Collection(IntegrationCollection.Name)]
public class SnapshotProgressStoreTests(KafkaFixture kafka)
{
    [Fact]
    public async Task The_newest_committed_progress_of_each_table_of_this_database_and_slot_is_read_back()
    {
        var prefix = kafka.NewTopicPrefix();
        var store = Store(prefix, "shop", "slot_a");
        var otherSlot = Store(prefix, "shop", "slot_b");
        Assert.Equal($"{prefix}.pg-replicate-kafka.snapshots", store.Topic);
        // Several partitions (an auto-created topic on a real cluster may have them too): every one is read to its end.
        kafka.Mock?.CreateTopic(store.Topic, partitions: 3);
        using var producer = Producer();
        await store.EnsureTopicAsync();

        var empty = store.ReadAll(TimeSpan.FromSeconds(20));
        Assert.Empty(empty.Tables);
        Assert.Null(empty.Slot);

        SnapshotRangeProgress[] halfway = [new(null, ["500"], ["250"], false), new(["500"], null, null, false)];
        await store.SaveAsync(producer, new SnapshotTableProgress("public.users", "s1", SnapshotTableState.Pending, 0, [new(null, null, null, false)]), default);
        await store.SaveAsync(producer, new SnapshotTableProgress("public.users", "s1", SnapshotTableState.InProgress, 250, halfway), default);
        // The slot incarnation: the newest record of the slot's own key, beside the tables' records (which carry theirs).
        var slot = new SlotIncarnation("7300000000000000001", 0x16B3748);
        await store.WriteAsync([store.SlotRecord(new SlotIncarnation("7300000000000000001", 0x1000)), store.SlotRecord(slot)], default);
        await store.SaveAsync(producer, new SnapshotTableProgress("public.orders", "s1", SnapshotTableState.Done, 10, [new(null, null, ["a\"b", "2"], true)]) { Slot = slot }, default);
        await otherSlot.SaveAsync(producer, new SnapshotTableProgress("public.users", "s9", SnapshotTableState.Done, 1, [new(null, null, null, true)]), default);
        var gone = new SnapshotTableProgress("public.gone", "s1", SnapshotTableState.Done, 1, [new(null, null, null, true)]);
        await store.SaveAsync(producer, gone, default);
        await producer.ProduceAsync(store.Topic, new Message<byte[]?, byte[]?> { Key = store.Key(gone), Value = null });
        // An on-demand request of a table is a record of its own, beside the table's snapshot.
        await store.SaveAsync(producer, new SnapshotTableProgress("public.users", "r1", SnapshotTableState.InProgress, 3, [new(null, null, ["3"], false)], "id < 10"), default);
        await producer.ProduceAsync(store.Topic, new Message<byte[]?, byte[]?> { Key = "not ours"u8.ToArray(), Value = "x"u8.ToArray() });

        var recorded = store.ReadAll(TimeSpan.FromSeconds(20));
        var progress = recorded.Tables;

        Assert.Equal(slot, recorded.Slot);
        Assert.Equal(slot, progress["public.orders"].Slot);
        Assert.Null(progress["public.users"].Slot);
        Assert.Equal(["public.orders", "public.users", "public.users#r1"], progress.Keys.Order());
        var request = progress["public.users#r1"];
        Assert.Equal(("public.users", "id < 10", 3L, SnapshotTableState.InProgress), (request.Table, request.Where, request.RowsRead, request.State));
        Assert.Null(progress["public.users"].Where);
        var users = progress["public.users"];
        Assert.Equal(SnapshotTableState.InProgress, users.State);
        Assert.Equal("s1", users.SnapshotId);
        Assert.Equal(250, users.RowsRead);
        Assert.Equal(2, users.Ranges.Count);
        Assert.Equal(["250"], users.Ranges[0].LastKey!);
        Assert.Equal(["500"], users.Ranges[0].Upper!);
        Assert.Null(users.Ranges[0].Lower);
        Assert.Equal(["500"], users.Ranges[1].Lower!);
        Assert.Null(users.Ranges[1].LastKey);
        Assert.Equal(["a\"b", "2"], progress["public.orders"].Ranges[0].LastKey!);
        Assert.True(progress["public.orders"].Ranges[0].Done);
        var other = otherSlot.ReadAll(TimeSpan.FromSeconds(20));
        Assert.Equal((SnapshotTableState.Done, null), (other.Tables["public.users"].State, other.Slot));
    }

    [Fact]
    public async Task An_unreachable_cluster_fails_the_read_instead_of_returning_a_partial_view()
    {
        if (kafka.Mock is not { } mock)
            return; // needs fault injection
        var store = Store(kafka.NewTopicPrefix(), "shop", "slot_a");
        using var producer = Producer();
        await store.SaveAsync(producer, new SnapshotTableProgress("public.users", "s1", SnapshotTableState.InProgress, 5, [new(null, null, ["5"], false)]), default);

        mock.SetBrokerDown(-1);
        try
        {
            var error = Assert.Throws<KafkaFailureException>(() => store.ReadAll(TimeSpan.FromSeconds(3)));
            Assert.Contains(store.Topic, error.Message);
        }
        finally
        {
            mock.SetBrokerUp(-1);
        }
    }

    private SnapshotProgressStore Store(string prefix, string database, string slot) => new(
        new ReplicatorConfig
        {
            Postgres = new PostgresConfig { Database = database, Username = "u", Publication = "pub", SlotName = slot },
            Kafka = new KafkaConfig { Brokers = [kafka.BootstrapServers], TopicPrefix = prefix },
        },
        NullLogger.Instance);

    private IProducer<byte[]?, byte[]?> Producer() =>
        new ProducerBuilder<byte[]?, byte[]?>(new ProducerConfig { BootstrapServers = kafka.BootstrapServers, EnableIdempotence = true }).Build();
}
