using PgReplicateKafka.Pipeline.Snapshot;

namespace PgReplicateKafka.Tests.Unit.Pipeline.Snapshot;

public class RecentTransactionsTests
{
    [Fact]
    public void Finds_an_unseen_transaction_only_before_the_position()
    {
        var recent = new RecentTransactions();
        recent.Record(10);
        recent.Record(10); // the same transaction's next change
        recent.Record(11);
        var low = recent.Position;
        recent.Record(12);
        Assert.Equal(2, low);
        Assert.True(recent.AnyUnseenBefore(low, xid => xid != 11));
        Assert.False(recent.AnyUnseenBefore(low, xid => xid != 12)); // after the low watermark: the window's business
        Assert.False(recent.AnyUnseenBefore(low, _ => true));
    }

    [Fact]
    public void Keeps_only_the_newest_capacity_transactions()
    {
        var recent = new RecentTransactions();
        for (uint xid = 1; xid <= RecentTransactions.Capacity + 10; xid++)
            recent.Record(xid);
        Assert.False(recent.AnyUnseenBefore(recent.Position, xid => xid > 10)); // 1..10 are gone
        Assert.True(recent.AnyUnseenBefore(recent.Position, xid => xid != 11));
    }
}
