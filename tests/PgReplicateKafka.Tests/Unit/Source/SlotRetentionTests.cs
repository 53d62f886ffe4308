using PgReplicateKafka.Source;

namespace PgReplicateKafka.Tests.Unit.Source;

public class SlotRetentionTests
{
    private const long Max = 1000;

    [Theory]
    [InlineData("reserved", null, null)]
    [InlineData("extended", null, null)]
    [InlineData("reserved", 900L, Max)]
    [InlineData("reserved", 200L, Max)]
    [InlineData("reserved", 5L, null)]
    public void A_slot_with_enough_safe_wal_or_no_limit_is_not_at_risk(string walStatus, long? safe, long? max)
    {
        Assert.Null(SlotRetention.Risk(walStatus, safe, max));
    }

    [Fact]
    public void Safe_wal_below_a_fifth_of_the_limit_is_a_risk()
    {
        var risk = SlotRetention.Risk("reserved", 199, Max);

        Assert.Equal("only 199 bytes of WAL (safe_wal_size) remain before max_slot_wal_keep_size (1000 bytes) invalidates the slot", risk);
    }

    [Fact]
    public void Unreserved_is_a_risk_whatever_the_safe_size()
    {
        var risk = SlotRetention.Risk("unreserved", -50, Max);

        Assert.NotNull(risk);
        Assert.StartsWith("wal_status is unreserved", risk);
        Assert.Contains("safe_wal_size -50 bytes", risk);
    }

    [Fact]
    public void Lost_says_the_slot_must_be_re_created()
    {
        var risk = SlotRetention.Risk("lost", null, Max);

        Assert.NotNull(risk);
        Assert.StartsWith("wal_status is lost", risk);
        Assert.Contains("re-created", risk);
    }
}
