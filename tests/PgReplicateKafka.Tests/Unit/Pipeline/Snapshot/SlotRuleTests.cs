using PgReplicateKafka.Configuration;
using PgReplicateKafka.Pipeline.Snapshot;
using PgReplicateKafka.Sink;

namespace PgReplicateKafka.Tests.Unit.Pipeline.Snapshot;

public class SlotRuleTests
{
    private const string Cluster = "7300000000000000001";
    private static readonly SlotIncarnation Recorded = new(Cluster, 0x2000);

    [Fact]
    public void The_recorded_slot_is_the_slot_streamed_when_it_is_of_this_cluster_and_stands_at_or_after_its_start()
    {
        Assert.Null(SlotRule.Rejection(Recorded, Cluster, 0x2000));
        Assert.Null(SlotRule.Rejection(Recorded, Cluster, 0x9000));
    }

    [Fact]
    public void A_slot_of_another_cluster_or_one_standing_before_the_recorded_start_is_another_slot()
    {
        Assert.Contains("cluster 7399999999999999999", SlotRule.Rejection(Recorded, "7399999999999999999", 0x9000));
        Assert.Contains("stands at 0/1FFF", SlotRule.Rejection(Recorded, Cluster, 0x1FFF));
    }

    [Fact]
    public void When_needed_goes_by_the_records_of_this_slot_only_and_initial_by_every_table_record()
    {
        var other = new SlotIncarnation(Cluster, 0x1000);
        var recorded = new Dictionary<string, SnapshotTableProgress>
        {
            ["public.a"] = Done("public.a") with { Slot = Recorded },
            ["public.b"] = Done("public.b") with { Slot = other },
            ["public.c"] = Done("public.c"), // written before slots were recorded
            ["public.a#request-0/1"] = Done("public.a") with { SnapshotId = "request-0/1", Where = "id < 3", Slot = Recorded },
        };

        Assert.Equal(["public.a"], SlotRule.Counted(SnapshotMode.WhenNeeded, recorded, Recorded).Keys);
        Assert.Equal(["public.a", "public.b", "public.c"], SlotRule.Counted(SnapshotMode.Initial, recorded, Recorded).Keys.Order());
        Assert.Equal(["public.a", "public.b", "public.c"], SlotRule.Counted(SnapshotMode.InitialOnly, recorded, Recorded).Keys.Order());
    }

    private static SnapshotTableProgress Done(string table) => new(table, "s1", SnapshotTableState.Done, 1, [new(null, null, null, true)]);
}
