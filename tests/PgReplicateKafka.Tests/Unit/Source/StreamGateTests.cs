using PgReplicateKafka.Source;

namespace PgReplicateKafka.Tests.Unit.Source;

public class StreamGateTests
{
    [Fact]
    public void A_stop_between_transactions_takes_effect_at_once_at_the_servers_position()
    {
        var gate = new StreamGate();
        Assert.True(gate.RequestStop(lastReceivedLsn: 500));
        Assert.True(gate.Stopped);
        Assert.True(gate.Done.IsCompleted);
        Assert.True(gate.TryGetIdlePosition(lastReceivedLsn: 700, out var lsn, out _));
        Assert.Equal(500ul, lsn); // where forwarding stopped, not where the server went on to
    }

    [Fact]
    public void A_stop_inside_a_transaction_waits_for_its_commit()
    {
        var gate = new StreamGate();
        gate.Begin();
        Assert.False(gate.RequestStop(lastReceivedLsn: 500));
        Assert.False(gate.Stopped);
        Assert.True(gate.Committed(endLsn: 650));
        Assert.True(gate.Stopped);
        Assert.True(gate.TryGetIdlePosition(lastReceivedLsn: 700, out var lsn, out var commits));
        Assert.Equal(650ul, lsn);
        Assert.Equal(1, commits);
    }

    [Fact]
    public void Stopping_now_inside_a_transaction_offers_no_idle_position()
    {
        var gate = new StreamGate();
        gate.Begin();
        Assert.True(gate.StopNow());
        Assert.False(gate.StopNow()); // only the first stop counts
        Assert.True(gate.Stopped);
        Assert.False(gate.TryGetIdlePosition(lastReceivedLsn: 700, out _, out _));
    }

    [Fact]
    public void The_idle_position_is_offered_only_between_transactions()
    {
        var gate = new StreamGate();
        Assert.True(gate.TryGetIdlePosition(100, out var lsn, out var commits));
        Assert.Equal((100ul, 0L), (lsn, commits));

        gate.Begin();
        Assert.False(gate.TryGetIdlePosition(200, out _, out _));

        Assert.False(gate.Committed(300)); // no stop pending
        Assert.True(gate.TryGetIdlePosition(400, out lsn, out commits));
        Assert.Equal((400ul, 1L), (lsn, commits));
    }
}
