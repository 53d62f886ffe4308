using PgReplicateKafka.Pipeline;

namespace PgReplicateKafka.Tests.Unit.Pipeline;

public class ConfirmationRuleTests
{
    [Fact]
    public void Confirms_what_is_delivered()
    {
        Assert.Equal(200ul, ConfirmationRule.Next(delivered: 200, deliveriesIdle: false, streamIdle: false, idleLsn: 0, forwardedCommits: 3, commitsSeen: 3, lastConfirmed: 100));
    }

    [Fact]
    public void Never_goes_backwards()
    {
        Assert.Equal(300ul, ConfirmationRule.Next(delivered: 200, deliveriesIdle: true, streamIdle: false, idleLsn: 0, forwardedCommits: 0, commitsSeen: 0, lastConfirmed: 300));
    }

    [Fact]
    public void An_idle_pipeline_follows_the_servers_position()
    {
        Assert.Equal(900ul, ConfirmationRule.Next(delivered: 200, deliveriesIdle: true, streamIdle: true, idleLsn: 900, forwardedCommits: 4, commitsSeen: 4, lastConfirmed: 200));
    }

    [Fact]
    public void The_idle_position_waits_while_kafka_has_not_acknowledged_everything()
    {
        Assert.Equal(200ul, ConfirmationRule.Next(delivered: 200, deliveriesIdle: false, streamIdle: true, idleLsn: 900, forwardedCommits: 4, commitsSeen: 4, lastConfirmed: 100));
    }

    [Fact]
    public void The_idle_position_waits_for_commits_the_pump_has_not_registered_yet()
    {
        // The stream handed over a commit the pump has not read yet: the tracker does not know it,
        // so "idle" there says nothing about it.
        Assert.Equal(200ul, ConfirmationRule.Next(delivered: 200, deliveriesIdle: true, streamIdle: true, idleLsn: 900, forwardedCommits: 5, commitsSeen: 4, lastConfirmed: 100));
    }

    [Fact]
    public void The_idle_position_is_not_offered_inside_a_transaction()
    {
        Assert.Equal(200ul, ConfirmationRule.Next(delivered: 200, deliveriesIdle: true, streamIdle: false, idleLsn: 900, forwardedCommits: 4, commitsSeen: 4, lastConfirmed: 100));
    }
}
