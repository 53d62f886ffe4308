using Confluent.Kafka;
using PgReplicateKafka.Events;
using PgReplicateKafka.Metrics;
using PgReplicateKafka.Pipeline;
using PgReplicateKafka.Pipeline.Delivery;
using PgReplicateKafka.Sink;

namespace PgReplicateKafka.Tests.Unit.Pipeline;

public class DeliveryTrackerTests
{
    private static readonly DeliveryFailure? Ok = null;

    private static SourceTransaction Tx(ulong endLsn) => new(xid: (uint)endLsn, DateTime.UtcNow) { EndLsn = endLsn };

    [Fact]
    public void Confirms_a_transaction_only_after_its_commit_and_every_ack()
    {
        var tracker = new DeliveryTracker(new ReplicatorMetrics());
        var t = tracker.Begin(Tx(100));
        t.AddEvent(10);
        t.AddEvent(10);
        t.OnDelivery.Delivered(Ok);
        t.OnDelivery.Delivered(Ok);
        Assert.Equal(0ul, tracker.ConfirmedLsn); // commit not seen yet

        t.Commit();
        Assert.Equal(100ul, tracker.ConfirmedLsn);
        Assert.Equal(1, tracker.ConfirmedCommits);
        Assert.Equal(0, tracker.InFlightEvents);
    }

    [Fact]
    public async Task A_waiter_is_woken_when_the_confirmed_position_moves_and_not_before()
    {
        var tracker = new DeliveryTracker(new ReplicatorMetrics());
        var t = tracker.Begin(Tx(100));
        t.AddEvent(10);
        var advanced = tracker.AdvancedAsync();
        t.Commit();
        Assert.False(advanced.IsCompleted); // an ack is outstanding: nothing moved

        t.OnDelivery.Delivered(Ok);
        await advanced.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(100ul, tracker.ConfirmedLsn);
        Assert.False(tracker.AdvancedAsync().IsCompleted); // a new wait waits for the next move
    }

    [Fact]
    public void Commit_before_the_last_ack_confirms_on_that_ack()
    {
        var tracker = new DeliveryTracker(new ReplicatorMetrics());
        var t = tracker.Begin(Tx(100));
        t.AddEvent(10);
        t.Commit();
        Assert.Equal(0ul, tracker.ConfirmedLsn);
        Assert.Equal(1, tracker.InFlightEvents);
        t.OnDelivery.Delivered(Ok);
        Assert.Equal(100ul, tracker.ConfirmedLsn);
    }

    [Fact]
    public void A_later_transaction_acknowledged_first_waits_for_the_earlier_one()
    {
        var tracker = new DeliveryTracker(new ReplicatorMetrics());
        var first = tracker.Begin(Tx(100));
        first.AddEvent(10);
        first.Commit();
        var second = tracker.Begin(Tx(200));
        second.AddEvent(10);
        second.Commit();

        second.OnDelivery.Delivered(Ok);
        Assert.Equal(0ul, tracker.ConfirmedLsn);

        first.OnDelivery.Delivered(Ok);
        Assert.Equal(200ul, tracker.ConfirmedLsn);
        Assert.Equal(2, tracker.ConfirmedCommits);
    }

    [Fact]
    public void A_transaction_without_events_is_confirmed_in_order()
    {
        var tracker = new DeliveryTracker(new ReplicatorMetrics());
        var first = tracker.Begin(Tx(100));
        first.AddEvent(10);
        first.Commit();
        tracker.Begin(Tx(150)).Commit();
        Assert.Equal(0ul, tracker.ConfirmedLsn);
        first.OnDelivery.Delivered(Ok);
        Assert.Equal(150ul, tracker.ConfirmedLsn);
    }

    [Fact]
    public void A_failed_delivery_stops_all_further_confirmation()
    {
        var tracker = new DeliveryTracker(new ReplicatorMetrics());
        var first = tracker.Begin(Tx(100));
        first.AddEvent(10);
        first.Commit();
        first.OnDelivery.Delivered(Ok);
        var second = tracker.Begin(Tx(200));
        second.AddEvent(10);
        second.AddEvent(10);
        second.Commit();
        second.OnDelivery.Delivered(new DeliveryFailure("t", new Error(ErrorCode.Local_MsgTimedOut)));
        second.OnDelivery.Delivered(Ok);
        var third = tracker.Begin(Tx(300));
        third.Commit();

        Assert.Equal(100ul, tracker.ConfirmedLsn);
        var failure = Assert.IsType<KafkaFailureException>(tracker.Failure);
        Assert.Contains("topic t", failure.Message);
    }

    [Fact]
    public void Concurrent_acks_confirm_the_last_transaction_exactly()
    {
        var tracker = new DeliveryTracker(new ReplicatorMetrics());
        var transactions = new List<PendingTransaction>();
        for (var i = 1; i <= 200; i++)
        {
            var t = tracker.Begin(Tx((ulong)i * 10));
            for (var e = 0; e < 50; e++)
                t.AddEvent(10);
            t.Commit();
            transactions.Add(t);
        }

        Parallel.ForEach(transactions, t =>
        {
            for (var e = 0; e < 50; e++)
                t.OnDelivery.Delivered(Ok);
        });

        Assert.Equal(2000ul, tracker.ConfirmedLsn);
        Assert.Equal(200, tracker.ConfirmedCommits);
        Assert.Equal(0, tracker.InFlightEvents);
    }

    [Fact]
    public void An_abandoned_transaction_confirms_nothing_and_does_not_block_later_ones()
    {
        var tracker = new DeliveryTracker(new ReplicatorMetrics());
        var first = tracker.Begin(Tx(100));
        first.AddEvent(10);
        first.Commit();
        var partial = tracker.Begin(Tx(200));
        partial.AddEvent(10);
        partial.Abandon(); // connection lost before its commit
        var resent = tracker.Begin(Tx(300));
        resent.AddEvent(10);
        resent.Commit();

        resent.OnDelivery.Delivered(Ok);
        Assert.Equal(0ul, tracker.ConfirmedLsn);
        first.OnDelivery.Delivered(Ok);
        Assert.Equal(300ul, tracker.ConfirmedLsn);
        Assert.Equal(2, tracker.ConfirmedCommits);
        Assert.True(tracker.IsIdle);
        partial.OnDelivery.Delivered(Ok); // a late ack of the abandoned copy changes nothing
        Assert.Equal(300ul, tracker.ConfirmedLsn);
    }

    [Fact]
    public void Acknowledgements_release_the_transactions_bytes_exactly_and_unproduced_events_their_own()
    {
        var budget = new InFlightBudget(1_000_000);
        var tracker = new DeliveryTracker(new ReplicatorMetrics(), budget);
        var t = tracker.Begin(Tx(100));
        foreach (var size in new long[] { 10, 500, 301 })
            t.AddEvent(size);

        t.Commit();
        t.OnDelivery.Delivered(Ok); // reports carry no message: each releases a share
        Assert.InRange(budget.Bytes, 1, 810);
        t.Unproduced(301); // an event not produced after all releases what it added
        t.OnDelivery.Delivered(Ok);
        Assert.Equal(0, budget.Bytes);
        Assert.Equal(100ul, tracker.ConfirmedLsn);
    }
}
