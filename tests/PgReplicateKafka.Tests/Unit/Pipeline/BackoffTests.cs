using PgReplicateKafka.Pipeline;

namespace PgReplicateKafka.Tests.Unit.Pipeline;

public class BackoffTests
{
    [Fact]
    public void Doubles_with_jitter_up_to_the_maximum_and_resets()
    {
        var backoff = new Backoff(TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(1000));
        double[] ceilings = [100, 200, 400, 800, 1000, 1000];
        foreach (var ceiling in ceilings)
        {
            var delay = backoff.Next().TotalMilliseconds;
            Assert.InRange(delay, ceiling / 2, ceiling);
        }

        Assert.Equal(6, backoff.Attempt);
        backoff.Reset();
        Assert.InRange(backoff.Next().TotalMilliseconds, 50, 100);
    }
}
