using System.Threading.Channels;
using PgReplicateKafka.Pipeline.Snapshot;
using PgReplicateKafka.Sink;

namespace PgReplicateKafka.Tests.Unit.Pipeline.Snapshot;

public class SnapshotWatchLoopTests
{
    private static SnapshotTableProgress Request(string id) =>
        new("public.items", id, SnapshotTableState.Pending, 0, [new SnapshotRangeProgress(null, null, null, false)], "true");

    /// <summary>A session that ends before its watcher started (a standby's attempt) must not leave it spinning: the session waits for it.</summary>
    [Fact]
    public async Task A_watch_cancelled_before_it_starts_ends_instead_of_spinning()
    {
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        var polls = 0;

        var watch = Task.Run(() => SnapshotScheduler.WatchLoopAsync(
            Channel.CreateUnbounded<SnapshotTableProgress>().Reader, new SemaphoreSlim(0), TimeSpan.FromSeconds(10),
            _ => Task.CompletedTask, () => { polls++; return Task.CompletedTask; }, cancelled.Token));

        var ended = await Record.ExceptionAsync(() => watch.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.IsAssignableFrom<OperationCanceledException>(ended);
        Assert.Equal(0, polls);
    }

    [Fact]
    public async Task Requests_are_handed_over_in_order_and_hints_poll_until_cancelled()
    {
        var requests = Channel.CreateUnbounded<SnapshotTableProgress>();
        var hints = new SemaphoreSlim(0);
        using var stop = new CancellationTokenSource();
        var handled = new List<string>();
        var polls = 0;
        var watch = SnapshotScheduler.WatchLoopAsync(requests.Reader, hints, TimeSpan.FromMinutes(1),
            request => { handled.Add(request.SnapshotId); return Task.CompletedTask; },
            () => { Interlocked.Increment(ref polls); return Task.CompletedTask; }, stop.Token);

        requests.Writer.TryWrite(Request("a"));
        hints.Release();
        requests.Writer.TryWrite(Request("b"));
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while ((handled.Count < 2 || Volatile.Read(ref polls) < 1) && DateTime.UtcNow < deadline)
            await Task.Delay(10);
        await stop.CancelAsync();

        Assert.Equal(["a", "b"], handled);
        Assert.Equal(1, polls);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => watch.WaitAsync(TimeSpan.FromSeconds(5)));
    }
}
