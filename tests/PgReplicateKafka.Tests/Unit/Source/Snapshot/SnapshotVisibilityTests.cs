using PgReplicateKafka.Source.Snapshot;

namespace PgReplicateKafka.Tests.Unit.Source.Snapshot;

public class SnapshotVisibilityTests
{
    [Fact]
    public void Sees_what_finished_before_the_snapshot_and_not_what_ran_or_came_after()
    {
        var visibility = SnapshotVisibility.Parse("100:110:102,105");
        Assert.True(visibility.Sees(99));
        Assert.True(visibility.Sees(100));
        Assert.True(visibility.Sees(101));
        Assert.False(visibility.Sees(102));
        Assert.True(visibility.Sees(104));
        Assert.False(visibility.Sees(105));
        Assert.False(visibility.Sees(110));
        Assert.False(visibility.Sees(200));
    }

    [Fact]
    public void Epochs_are_dropped_and_order_holds_across_xid_wraparound()
    {
        // Epoch 1, xmin just below 2^32 and xmax past it: pgoutput sends the 32-bit xids 4294967290 and 3.
        var xmin = (1UL << 32) + 4294967290;
        var xmax = (2UL << 32) + 5;
        var visibility = SnapshotVisibility.Parse($"{xmin}:{xmax}:{(2UL << 32) + 3}");
        Assert.True(visibility.Sees(4294967280));
        Assert.True(visibility.Sees(4294967295));
        Assert.True(visibility.Sees(2));
        Assert.False(visibility.Sees(3));
        Assert.False(visibility.Sees(5));
    }

    [Fact]
    public void An_empty_running_list_parses()
    {
        var visibility = SnapshotVisibility.Parse("7:7:");
        Assert.True(visibility.Sees(6));
        Assert.False(visibility.Sees(7));
        Assert.Throws<FormatException>(() => SnapshotVisibility.Parse("7:7"));
    }
}
