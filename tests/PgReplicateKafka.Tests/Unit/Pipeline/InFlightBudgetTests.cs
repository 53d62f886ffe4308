using PgReplicateKafka.Pipeline;

namespace PgReplicateKafka.Tests.Unit.Pipeline;

public class InFlightBudgetTests
{
    [Fact]
    public async Task Waits_while_the_limit_is_reached_and_resumes_on_release()
    {
        var budget = new InFlightBudget(100);
        await budget.WaitForRoomAsync(CancellationToken.None); // empty: no wait
        budget.Add(150); // one event may overshoot

        var waiting = budget.WaitForRoomAsync(CancellationToken.None).AsTask();
        await Task.Delay(50);
        Assert.False(waiting.IsCompleted);

        budget.Release(30); // still 120 >= 100
        await Task.Delay(50);
        Assert.False(waiting.IsCompleted);

        budget.Release(30);
        await waiting.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(90, budget.Bytes);
    }

    [Fact]
    public async Task Many_releases_from_other_threads_never_lose_a_wake_up()
    {
        var budget = new InFlightBudget(10);
        var produced = 0;
        var consumer = Task.Run(async () =>
        {
            for (var i = 0; i < 20_000; i++)
            {
                await budget.WaitForRoomAsync(CancellationToken.None);
                budget.Add(1);
                Interlocked.Increment(ref produced);
            }
        });
        var releaser = Task.Run(() =>
        {
            var released = 0;
            while (released < 20_000)
            {
                if (Volatile.Read(ref produced) > released)
                {
                    budget.Release(1);
                    released++;
                }
            }
        });

        await Task.WhenAll(consumer, releaser).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(0, budget.Bytes);
    }

    [Fact]
    public async Task An_ended_share_frees_what_it_holds_and_its_late_releases_free_nothing_another_share_holds()
    {
        var budget = new InFlightBudget(100);
        var lostSession = budget.Share();
        var nextSession = budget.Share();
        lostSession.Add(80);
        nextSession.Add(30);
        Assert.Equal(110, budget.Bytes); // every share counts against the one limit

        lostSession.End(); // its memory is gone: its pump stopped, or its producer was disposed
        Assert.Equal(30, budget.Bytes);
        lostSession.Release(80); // a late delivery report of what it had handed over
        lostSession.Add(5);
        Assert.Equal(30, budget.Bytes);

        nextSession.Add(70);
        var waiting = budget.WaitForRoomAsync(CancellationToken.None).AsTask();
        await Task.Delay(50);
        Assert.False(waiting.IsCompleted);
        nextSession.Release(1);
        await waiting.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Releases_racing_the_end_of_their_share_are_counted_once()
    {
        var budget = new InFlightBudget(long.MaxValue);
        for (var round = 0; round < 200; round++)
        {
            var share = budget.Share();
            share.Add(20_000);
            var released = 0;
            var releasers = Enumerable.Range(0, 2).Select(_ => Task.Run(() =>
            {
                for (var i = 0; i < 10_000; i++)
                {
                    share.Release(1);
                    Interlocked.Increment(ref released);
                }
            })).ToArray();
            while (Volatile.Read(ref released) < 5_000)
                Thread.SpinWait(10);
            share.End(); // while the releases go on
            await Task.WhenAll(releasers);
            Assert.Equal(0, budget.Bytes);
        }
    }

    [Fact]
    public async Task Waiting_honours_cancellation()
    {
        var budget = new InFlightBudget(1);
        budget.Add(1);
        using var cts = new CancellationTokenSource(50);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => budget.WaitForRoomAsync(cts.Token).AsTask());
    }
}
