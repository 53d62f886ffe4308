using Microsoft.Extensions.Logging;
using Npgsql;
using PgReplicateKafka.Metrics;
using PgReplicateKafka.Sink;
using PgReplicateKafka.Source.Snapshot;

namespace PgReplicateKafka.Pipeline.Snapshot;

/// <summary>A key range of a table's snapshot, waiting for a chunk reader.</summary>
internal sealed record RangeWork(TableJob Job, int Range);

/// <summary>
/// One chunk reader: per chunk, writes the low watermark, reads the chunk, hands its rows to the
/// pump, writes the high watermark, and waits until Kafka acknowledged the chunk's READ events
/// before recording its progress and reading the next. So a crash reads again at most one chunk per reader.
/// </summary>
/// <param name="relayout">
/// The table's layout changed under a read (a column dropped or renamed, the table dropped or renamed): reads its
/// layout again on the connection given; false when the table's snapshot cannot go on (<see cref="TableJob.StoppedBecause"/>).
/// </param>
internal sealed class ChunkWorker(
    SessionContext context, SnapshotCoordinator coordinator, SnapshotBook book, Action<RangeWork> rangeDone,
    Func<NpgsqlConnection, TableJob, CancellationToken, Task<bool>> relayout)
{
    private static readonly TimeSpan MinRetryDelay = TimeSpan.FromMilliseconds(5);
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(1);

    private readonly ILogger _logger = context.Logger;
    private readonly SnapshotMetrics _metrics = context.Metrics.Snapshot;

    public async Task RunAsync(Func<CancellationToken, ValueTask<RangeWork?>> next, CancellationToken ct)
    {
        await using var connection = await SnapshotConnection.OpenAsync(context.Config.Postgres, ct);
        while (await next(ct) is { } work)
        {
            await ReadRangeAsync(connection, work, ct);
            rangeDone(work);
        }
    }

    private async Task ReadRangeAsync(NpgsqlConnection connection, RangeWork work, CancellationToken ct)
    {
        var job = work.Job;
        var state = job.Ranges[work.Range];
        var after = state.LastKey;
        var retryDelay = MinRetryDelay;
        ChunkReader? reader = null;
        while (!state.Done)
        {
            await WaitForBudgetAsync(ct);
            // The rows, the window and the READ events of a chunk are all of the layout it is read in.
            var layout = job.Layout;
            if (reader?.Table != layout.Table)
                reader = new ChunkReader(layout.Table, context.Config.Snapshot.ChunkSize, state.Range, job.Where);
            var chunk = coordinator.Register(job, work.Range, layout.Info);
            await Watermarks.EmitAsync(connection, new Watermark(WatermarkKind.Low, job.SnapshotId, job.Table.QualifiedName, chunk.Id), ct);
            SnapshotChunk rows;
            try
            {
                rows = await reader.ReadAsync(connection, after, ct);
            }
            catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.UndefinedColumn or PostgresErrorCodes.UndefinedTable)
            {
                // ALTER TABLE under the snapshot: close this chunk's window unread, then read on in the new layout.
                chunk.Unread = true;
                await Watermarks.EmitAsync(connection, new Watermark(WatermarkKind.High, job.SnapshotId, job.Table.QualifiedName, chunk.Id), ct);
                await chunk.Completion.Task.WaitAsync(ct);
                if (!await relayout(connection, job, ct))
                    return;
                continue;
            }

            // Not charged to the in-flight budget while held: the receive loop waits on that budget, and
            // a chunk larger than it would stop the stream before the high watermark that releases the
            // chunk. Held rows are bounded by parallelism × chunk_size; the survivors are charged when emitted.
            chunk.Rows = rows;
            await Watermarks.EmitAsync(connection, new Watermark(WatermarkKind.High, job.SnapshotId, job.Table.QualifiedName, chunk.Id), ct);

            var result = await chunk.Completion.Task.WaitAsync(ct);
            if (result.Progress is not { } progress)
            {
                // Such a transaction becomes visible within moments (or when its synchronous standby answers).
                _logger.LogDebug("Chunk of {Table} read again: the read missed a transaction streamed before its low watermark", job.Table.QualifiedName);
                await Task.Delay(retryDelay, ct);
                retryDelay = TimeSpan.FromTicks(Math.Min(retryDelay.Ticks * 2, MaxRetryDelay.Ticks));
                continue;
            }

            retryDelay = MinRetryDelay;
            await WaitDeliveredAsync(result, ct);
            await job.SaveInOrderAsync(result.Version, async () =>
            {
                if (context.Config.Replication.Delivery != Configuration.DeliveryGuarantee.ExactlyOnce)
                    await SaveAsync(progress, ct);
                book.Set(progress);
            }, ct);

            _metrics.ChunkAcknowledged(job.Table.QualifiedName, rows.Rows.Count, result.Dropped);
            after = rows.LastKey ?? after;
        }
    }

    /// <summary>Read a chunk only while at most half of the in-flight budget is in use, so streaming keeps room.</summary>
    private async Task WaitForBudgetAsync(CancellationToken ct)
    {
        var half = context.Config.Replication.MaxInFlightBytes / 2;
        while (context.Budget.Bytes >= half)
            await Task.Delay(10, ct);
    }

    /// <summary>The high watermark's transaction, and so every READ event of the chunk (exactly-once: and its progress record), is delivered.</summary>
    private async Task WaitDeliveredAsync(ChunkResult result, CancellationToken ct)
    {
        var tracker = context.Tracker;
        while (true)
        {
            // The signal first, then the check: a move in between completes the signal.
            var advanced = tracker.AdvancedAsync();
            if (result.Transaction.EndLsn != 0 && tracker.ConfirmedLsn >= result.Transaction.EndLsn)
                return;
            if (tracker.Failure is { } failure)
                throw failure;
            // Woken when the position moves; the look every 50 ms covers a failure, which moves nothing.
            await Task.WhenAny(advanced, Task.Delay(50, ct));
            ct.ThrowIfCancellationRequested();
        }
    }

    /// <summary>At-least-once: the progress record is written only now that the chunk is acknowledged, and waited for.</summary>
    private async Task SaveAsync(Sink.SnapshotTableProgress progress, CancellationToken ct)
    {
        var record = coordinator.Store.Record(progress);
        var acknowledged = new TaskCompletionSource<DeliveryFailure?>(TaskCreationOptions.RunContinuationsAsynchronously);
        await context.Producer.ProduceAsync(coordinator.Store.Topic, record.Key, record.Value, null, new DeliveryCallback(failure => acknowledged.TrySetResult(failure)), ct);
        if (await acknowledged.Task.WaitAsync(ct) is { } failure)
        {
            throw new KafkaFailureException(
                $"Kafka did not store the snapshot progress of {progress.Table} in topic {coordinator.Store.Topic}: {failure.Error.Reason}; the chunk is read again after a restart");
        }

        _logger.LogDebug("Snapshot progress of {Table}: {Rows} rows, {State}", progress.Table, progress.RowsRead, progress.State);
    }
}
