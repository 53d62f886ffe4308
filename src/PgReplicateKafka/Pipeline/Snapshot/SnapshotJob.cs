using System.Diagnostics;
using PgReplicateKafka.Events;
using PgReplicateKafka.Sink;
using PgReplicateKafka.Source.Snapshot;

namespace PgReplicateKafka.Pipeline.Snapshot;

/// <summary>One key range of a table's snapshot, as far as the stream has carried it.</summary>
internal sealed class RangeState(KeyRange range, string[]? lastKey, bool done)
{
    public KeyRange Range { get; } = range;
    public string[]? LastKey { get; set; } = lastKey;
    public bool Done { get; set; } = done;
}

/// <summary>A table's columns as its chunks are read (<paramref name="Table"/>) and emitted (<paramref name="Info"/>).</summary>
internal sealed record TableLayout(SnapshotTable Table, TableInfo Info);

/// <summary>
/// The snapshot of one table: its ranges advance at each high watermark, in stream order (the pump),
/// and <see cref="Capture"/> is the progress record of that point.
/// </summary>
internal sealed class TableJob
{
    private readonly Lock _gate = new();
    private readonly SemaphoreSlim _saving = new(1, 1);
    private long _advanced;
    private long _saved;
    private TableLayout _layout;

    public TableJob(SnapshotTable table, TableInfo info, string snapshotId, IReadOnlyList<RangeState> ranges, long rowsRead, string? where)
    {
        _layout = new TableLayout(table, info);
        SnapshotId = snapshotId;
        Ranges = ranges;
        RowsRead = rowsRead;
        RowsAtStart = rowsRead;
        Where = where;
    }

    /// <summary>The table's name, relation and estimate: the same in every layout.</summary>
    public SnapshotTable Table => Layout.Table;

    /// <summary>The columns now: a chunk is read and emitted in the layout it was registered with.</summary>
    public TableLayout Layout => Volatile.Read(ref _layout);

    /// <summary>Set when the table was dropped, renamed or left the publication under the snapshot: it ends unfinished.</summary>
    public string? StoppedBecause { get; set; }

    public string SnapshotId { get; }
    public IReadOnlyList<RangeState> Ranges { get; }

    /// <summary>An on-demand request's condition (its progress is a record of its own, see <see cref="SnapshotTableProgress.Key"/>); null for the table's snapshot.</summary>
    public string? Where { get; }

    /// <summary>Planned when the session started: <c>initial_only</c> waits for it.</summary>
    public bool Initial { get; init; }

    /// <summary>The slot incarnation the job's records are for (see <see cref="SlotRule"/>).</summary>
    public SlotIncarnation? Slot { get; init; }

    /// <summary>Rows read and emitted (or dropped by the window) so far, including those before a resume.</summary>
    public long RowsRead { get; private set; }

    public long RowsAtStart { get; }

    /// <summary>Chunk rows not emitted because the stream carried a newer state of them.</summary>
    public long Dropped { get; private set; }
    public Stopwatch Elapsed { get; } = Stopwatch.StartNew();

    public bool Done
    {
        get
        {
            lock (_gate)
                return Ranges.All(r => r.Done);
        }
    }

    /// <summary>
    /// The high watermark of a chunk of range <paramref name="range"/> passed: returns the table's progress
    /// record at this point of the stream, and its place among this table's records (<paramref name="version"/>).
    /// </summary>
    public SnapshotTableProgress Advance(int range, SnapshotChunk chunk, int dropped, out long version)
    {
        lock (_gate)
        {
            version = ++_advanced;
            Dropped += dropped;
            var state = Ranges[range];
            state.LastKey = chunk.LastKey ?? state.LastKey;
            state.Done = chunk.IsLast;
            RowsRead += chunk.Rows.Count;
            return Capture();
        }
    }

    /// <summary>
    /// Runs <paramref name="save"/> for the progress record of <paramref name="version"/>, one at a time, unless a
    /// newer record of this table was saved already: the readers of a table's ranges wait for Kafka side by side
    /// and may finish in either order, and the newest record in the topic must be the newest progress.
    /// </summary>
    /// <returns>False when the record was older than one saved, and skipped.</returns>
    public async Task<bool> SaveInOrderAsync(long version, Func<Task> save, CancellationToken ct)
    {
        await _saving.WaitAsync(ct);
        try
        {
            if (version <= _saved)
                return false;
            await save();
            _saved = version;
            return true;
        }
        finally
        {
            _saving.Release();
        }
    }

    /// <summary>A column was dropped or renamed under the snapshot: the next chunks are read in <paramref name="layout"/>.</summary>
    public void Relayout(TableLayout layout) => Volatile.Write(ref _layout, layout);

    public SnapshotTableProgress Capture()
    {
        lock (_gate)
        {
            var ranges = new SnapshotRangeProgress[Ranges.Count];
            var done = true;
            var started = RowsRead > 0;
            for (var i = 0; i < ranges.Length; i++)
            {
                var r = Ranges[i];
                ranges[i] = new SnapshotRangeProgress(r.Range.Lower, r.Range.Upper, r.LastKey, r.Done);
                done &= r.Done;
                started |= r.Done || r.LastKey is not null;
            }

            var state = done ? SnapshotTableState.Done : started ? SnapshotTableState.InProgress : SnapshotTableState.Pending;
            return new SnapshotTableProgress(Table.QualifiedName, SnapshotId, state, RowsRead, ranges, Where) { Slot = Slot };
        }
    }
}

/// <summary>The outcome of a chunk at its high watermark.</summary>
/// <param name="Transaction">The high watermark's transaction: once it is delivered, so are the chunk's READ events.</param>
/// <param name="Progress">Null when nothing was emitted because the read missed a transaction the stream carried before the window: read the chunk again.</param>
/// <param name="Version">The progress record's place among its table's records (<see cref="TableJob.Advance"/>).</param>
internal sealed record ChunkResult(SourceTransaction Transaction, int Emitted, int Dropped, SnapshotTableProgress? Progress, long Version = 0);

/// <summary>A chunk between its watermarks: registered before the low one is written, its rows set before the high one is.</summary>
/// <param name="info">The layout the chunk is read in: its window and READ events use it.</param>
internal sealed class PendingChunk(TableJob job, int range, long id, TableInfo info)
{
    public TableJob Job { get; } = job;
    public int Range { get; } = range;
    public long Id { get; } = id;
    public TableInfo Info { get; } = info;

    /// <summary>Opened by the pump at the low watermark.</summary>
    public ChunkWindow? Window { get; set; }

    /// <summary>Where the low watermark came in the stream (<see cref="RecentTransactions.Position"/>).</summary>
    public long LowPosition { get; set; }

    /// <summary>Set by the reader before it writes the high watermark, so the pump sees it there.</summary>
    public volatile SnapshotChunk? Rows;

    /// <summary>Set instead of <see cref="Rows"/> when the read failed: the high watermark only closes the window.</summary>
    public volatile bool Unread;


    public TaskCompletionSource<ChunkResult> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public bool Matches(Watermark watermark) =>
        watermark.Chunk == Id && watermark.SnapshotId == Job.SnapshotId && watermark.Table == Job.Table.QualifiedName;
}
