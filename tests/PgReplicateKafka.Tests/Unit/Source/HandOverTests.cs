using System.Threading.Channels;
using PgReplicateKafka.Events;
using PgReplicateKafka.Source;
using PgReplicateKafka.Source.Snapshot;

namespace PgReplicateKafka.Tests.Unit.Source;

public class HandOverTests
{
    private static readonly SourceTransaction Transaction = new(7, DateTime.UnixEpoch);

    [Fact]
    public async Task Messages_are_held_until_a_batch_is_full_or_flushed_and_keep_their_order()
    {
        var channel = Channel.CreateUnbounded<SourceMessage>();
        var handOver = new HandOver(channel.Writer, new StreamGate());
        var sent = new List<SourceMessage>();
        for (var i = 0; i < HandOver.BatchSize + 10; i++)
        {
            var message = new TransactionCommitted(Transaction);
            sent.Add(message);
            await handOver.WriteAsync(message, CancellationToken.None);
        }

        Assert.True(channel.Reader.TryRead(out var first));
        Assert.Equal(HandOver.BatchSize, Assert.IsType<SourceBatch>(first).Messages.Count);
        Assert.False(channel.Reader.TryRead(out _));

        await handOver.FlushAsync(CancellationToken.None);
        await handOver.FlushAsync(CancellationToken.None); // nothing held: no empty batch

        Assert.True(channel.Reader.TryRead(out var second));
        Assert.False(channel.Reader.TryRead(out _));
        Assert.Equal(sent, [.. ((SourceBatch)first).Messages, .. ((SourceBatch)second).Messages]);
    }

    [Fact]
    public async Task It_says_when_a_commit_is_held_until_the_batch_is_handed_over()
    {
        var channel = Channel.CreateUnbounded<SourceMessage>();
        var handOver = new HandOver(channel.Writer, new StreamGate());
        Assert.False(handOver.HoldsCommit);

        await handOver.WriteAsync(new SnapshotMarker(new Watermark(WatermarkKind.Low, "s", "public.t", 1), 1, Transaction), CancellationToken.None);
        Assert.False(handOver.HoldsCommit);
        await handOver.WriteAsync(new TransactionCommitted(Transaction), CancellationToken.None);
        await handOver.WriteAsync(new SnapshotMarker(new Watermark(WatermarkKind.High, "s", "public.t", 1), 2, Transaction), CancellationToken.None);
        Assert.True(handOver.HoldsCommit);

        await handOver.FlushAsync(CancellationToken.None);
        Assert.False(handOver.HoldsCommit);
        Assert.Equal(3, Assert.IsType<SourceBatch>(await channel.Reader.ReadAsync()).Messages.Count);
    }

    [Fact]
    public async Task A_channel_closed_by_a_stop_drops_the_batch_and_any_other_close_is_an_error()
    {
        var stopped = new StreamGate();
        stopped.StopNow();
        var closed = Channel.CreateUnbounded<SourceMessage>();
        closed.Writer.Complete();

        var handOver = new HandOver(closed.Writer, stopped);
        await handOver.WriteAsync(new TransactionCommitted(Transaction), CancellationToken.None);
        await handOver.FlushAsync(CancellationToken.None);

        var running = new HandOver(closed.Writer, new StreamGate());
        await running.WriteAsync(new TransactionCommitted(Transaction), CancellationToken.None);
        await Assert.ThrowsAsync<ChannelClosedException>(() => running.FlushAsync(CancellationToken.None).AsTask());
    }
}
