using System.Collections.Concurrent;
using PgReplicateKafka.Events;
using PgReplicateKafka.Sink;
using PgReplicateKafka.Source.Snapshot;

namespace PgReplicateKafka.Pipeline.Snapshot;

/// <summary>
/// The pump's side of the watermark algorithm (DBLog), for one session: at a chunk's low watermark
/// it opens a <see cref="ChunkWindow"/>, feeds it every streamed change, and at the high watermark
/// emits the surviving chunk rows as READ events in the high watermark's transaction.
/// </summary>
/// <param name="progressInTransaction">Exactly-once: the progress record goes into the same Kafka transaction as the READ events.</param>
public sealed class SnapshotCoordinator(SnapshotProgressStore store, InFlightBudget budget, bool progressInTransaction)
{
    private readonly ConcurrentDictionary<long, PendingChunk> _chunks = new();

    // Only the pump's thread touches these.
    private readonly List<PendingChunk> _open = [];
    private readonly HashSet<uint> _seenRelations = [];
    private readonly RecentTransactions _recent = new();

    // Unique across processes, so a watermark an earlier process wrote (streamed again after a restart) never matches a chunk of ours.
    private long _nextChunk = Random.Shared.NextInt64(1, long.MaxValue / 2);

    /// <summary>A change of a relation the pump had not seen before arrived (perhaps a table just added to the publication).</summary>
    public event Action<uint>? RelationSeen;

    /// <summary>An on-demand snapshot request arrived in the stream; its progress record (pending) is in the request's transaction.</summary>
    public event Action<SnapshotTableProgress>? Requested;

    public SnapshotProgressStore Store => store;

    internal PendingChunk Register(TableJob job, int range, TableInfo info)
    {
        var chunk = new PendingChunk(job, range, Interlocked.Increment(ref _nextChunk), info);
        _chunks[chunk.Id] = chunk;
        return chunk;
    }

    /// <summary>Feeds a streamed change to every open window. Call before the change's rows are released.</summary>
    public void Observe(ChangeEvent change)
    {
        if (_seenRelations.Add(change.Table.RelationId))
            RelationSeen?.Invoke(change.Table.RelationId);
        _recent.Record(change.Transaction.Xid);
        foreach (var chunk in _open)
            chunk.Window!.Observe(change);
    }

    /// <summary>Handles a snapshot message at its place in the stream.</summary>
    /// <param name="produceRead">Produces one READ event (serializes and releases it) in the marker's transaction.</param>
    /// <param name="produceRecord">Produces a record (topic, key, value) in the marker's transaction.</param>
    public async ValueTask HandleAsync(SnapshotMarker marker, Func<ChangeEvent, ValueTask> produceRead, Func<string, byte[], byte[], ValueTask> produceRecord)
    {
        switch (marker.Message)
        {
            case SnapshotRequest request:
                // Recorded in the request's own transaction: once the stream is confirmed past the
                // request, Kafka holds it, and a restart resumes it (SnapshotScheduler) instead of losing it.
                // Named by its WAL position, so the same request streamed again is known as the same.
                var pending = new SnapshotTableProgress(
                    request.Table, "request-" + Lsn.Format(marker.Lsn), SnapshotTableState.Pending, 0, [new SnapshotRangeProgress(null, null, null, false)], request.Where ?? "true");
                // Once per process; in mode never the first request is the first write to the topic.
                await store.EnsureTopicAsync();
                var record = store.Record(pending);
                await produceRecord(store.Topic, record.Key!, record.Value!);
                Requested?.Invoke(pending);
                break;
            case Watermark { Kind: WatermarkKind.Low } low:
                if (_chunks.TryGetValue(low.Chunk, out var opening) && opening.Matches(low) && opening.Window is null)
                {
                    opening.Window = new ChunkWindow(opening.Info);
                    opening.LowPosition = _recent.Position;
                    _open.Add(opening);
                }

                break;
            case Watermark { Kind: WatermarkKind.High } high:
                if (_chunks.TryGetValue(high.Chunk, out var closing) && closing.Matches(high) && closing.Window is not null)
                {
                    if (closing.Rows is { } rows)
                        await CloseAsync(closing, rows, marker, produceRead, produceRecord);
                    else if (closing.Unread)
                        Forget(closing, marker);
                }

                break;
        }
    }

    /// <summary>Closes the window of a chunk whose read failed: nothing to emit, its reader goes on.</summary>
    private void Forget(PendingChunk chunk, SnapshotMarker marker)
    {
        _open.Remove(chunk);
        _chunks.TryRemove(chunk.Id, out _);
        chunk.Completion.TrySetResult(new ChunkResult(marker.Transaction, 0, 0, null));
    }

    private async ValueTask CloseAsync(
        PendingChunk chunk, SnapshotChunk rows, SnapshotMarker marker, Func<ChangeEvent, ValueTask> produceRead, Func<string, byte[], byte[], ValueTask> produceRecord)
    {
        _open.Remove(chunk);
        _chunks.TryRemove(chunk.Id, out _);
        if (_recent.AnyUnseenBefore(chunk.LowPosition, rows.Visibility.Sees))
        {
            // A transaction the stream carried before the window opened was not yet visible to the read
            // (its commit record precedes its visibility): the chunk may hold an older state than the stream sent.
            foreach (var row in rows.Rows)
                row.Release();
            chunk.Completion.TrySetResult(new ChunkResult(marker.Transaction, 0, 0, null));
            return;
        }

        var survivors = chunk.Window!.Close(rows.Rows);

        // From here the survivors are in flight like streamed changes: each READ event releases its share when serialized.
        var kept = 0L;
        foreach (var row in survivors)
            kept += ChangeEventSize(row);
        budget.Add(kept);
        foreach (var row in survivors)
            await produceRead(new ChangeEvent(chunk.Info, ChangeOperation.Read, marker.Lsn, marker.Transaction, before: null, after: row));

        var progress = chunk.Job.Advance(chunk.Range, rows, chunk.Window.Dropped, out var version);
        if (progressInTransaction)
        {
            var record = store.Record(progress);
            await produceRecord(store.Topic, record.Key!, record.Value!);
        }

        chunk.Completion.TrySetResult(new ChunkResult(marker.Transaction, survivors.Count, chunk.Window.Dropped, progress, version));
    }

    /// <summary>What a READ event of <paramref name="row"/> counts in the in-flight budget until it is serialized (as <see cref="ChangeEvent.ByteSize"/>).</summary>
    internal static long ChangeEventSize(RowData row) => 64 + row.ByteSize;

    /// <summary>The session is over (the pump has stopped): frees the rows of chunks whose high watermark never came.</summary>
    public void ReleaseAll()
    {
        foreach (var chunk in _chunks.Values)
        {
            if (chunk.Rows is { } rows)
            {
                foreach (var row in rows.Rows)
                    row.Release();
            }

            chunk.Completion.TrySetCanceled();
        }

        _chunks.Clear();
        _open.Clear();
    }
}
