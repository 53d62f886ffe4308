using PgReplicateKafka.Pipeline;
using PgReplicateKafka.Source;

namespace PgReplicateKafka.Tests.Unit.Pipeline;

public class ResumeRuleTests
{
    private static readonly ClusterIdentity Primary = new("7300000000000000001", 1, 0);

    [Fact]
    public void The_first_session_starts_at_the_slot_or_after_what_is_delivered()
    {
        Assert.Equal(500ul, ResumeRule.Start(slotLsn: 500, lastConfirmedLsn: 0, deliveredLsn: 0, previous: null, current: Primary));
        Assert.False(ResumeRule.ServerChanged(null, Primary));
    }

    [Fact]
    public void The_same_server_resumes_after_what_this_process_delivered_even_when_the_slot_lags()
    {
        Assert.Equal(900ul, ResumeRule.Start(slotLsn: 500, lastConfirmedLsn: 800, deliveredLsn: 900, previous: Primary, current: Primary with { WalPosition = 1000 }));
    }

    [Fact]
    public void A_promoted_standby_on_a_new_timeline_resumes_from_its_slot()
    {
        var promoted = Primary with { Timeline = 2 };

        Assert.True(ResumeRule.ServerChanged(Primary, promoted));
        Assert.Equal(500ul, ResumeRule.Start(slotLsn: 500, lastConfirmedLsn: 800, deliveredLsn: 900, previous: Primary, current: promoted));
    }

    [Fact]
    public void Another_cluster_resumes_from_its_slot()
    {
        var other = Primary with { SystemId = "7300000000000000002" };

        Assert.True(ResumeRule.ServerChanged(Primary, other));
        Assert.Equal(500ul, ResumeRule.Start(slotLsn: 500, lastConfirmedLsn: 800, deliveredLsn: 900, previous: Primary, current: other));
    }
}
