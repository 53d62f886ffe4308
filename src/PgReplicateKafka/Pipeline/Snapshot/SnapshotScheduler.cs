using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Npgsql;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Sink;
using PgReplicateKafka.Source;
using PgReplicateKafka.Source.Snapshot;

namespace PgReplicateKafka.Pipeline.Snapshot;

/// <summary>
/// Decides what to snapshot in a session (new slot, unfinished progress, tables that appear later,
/// on-demand requests) and runs <c>parallelism</c> chunk readers over the tables' key ranges while the
/// stream goes on. See docs/snapshots.md.
/// </summary>
public sealed partial class SnapshotScheduler
{
    private static readonly TimeSpan DiscoveryInterval = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan ReportInterval = TimeSpan.FromSeconds(5);

    private readonly SessionContext _context;
    private readonly SnapshotBook _book;
    private readonly SourceState _source;
    private readonly ILogger _logger;
    private readonly SnapshotConfig _config;
    private readonly Channel<RangeWork> _work = Channel.CreateUnbounded<RangeWork>();
    private readonly Channel<SnapshotTableProgress> _requests = Channel.CreateUnbounded<SnapshotTableProgress>();
    private readonly SemaphoreSlim _discover = new(0);
    private readonly Lock _gate = new();
    private readonly Dictionary<TableJob, int> _rangesLeft = [];
    private readonly HashSet<uint> _known = [];
    private readonly TaskCompletionSource _initialDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _initialLeft;

    public SnapshotScheduler(SessionContext context, SnapshotBook book, SourceState source)
    {
        _context = context;
        _book = book;
        _source = source;
        _logger = context.Logger;
        _config = context.Config.Snapshot;
        Coordinator = new SnapshotCoordinator(book.Store, context.Budget, context.Config.Replication.Delivery == DeliveryGuarantee.ExactlyOnce);
        Coordinator.Requested += request => _requests.Writer.TryWrite(request);
        if (_config.Mode != SnapshotMode.Never && _config.NewTables)
            Coordinator.RelationSeen += relation => { if (!IsKnown(relation)) _discover.Release(); };
    }

    public SnapshotCoordinator Coordinator { get; }

    /// <summary><c>initial_only</c>: completes once every table planned at start is snapshotted and acknowledged.</summary>
    public Task InitialDone => _initialDone.Task;

    public async Task RunAsync(CancellationToken ct)
    {
        await using var connection = await SnapshotConnection.OpenAsync(_context.Config.Postgres, ct);
        if (connection.PostgreSqlVersion.Major * 10000 < SnapshotTableCatalog.MinimumServerVersion)
        {
            if (_config.Mode != SnapshotMode.Never)
                _logger.LogWarning("No snapshot: it needs PostgreSQL 14 or later (pgoutput's messages option), the server is {Version}; set [snapshot] mode = \"never\"", connection.PostgreSqlVersion);
            _initialDone.TrySetResult();
            return;
        }

        var progress = await _book.LoadAsync(ct);
        if (_config.Mode != SnapshotMode.Never)
        {
            await _book.Store.EnsureTopicAsync();
            await PlanAsync(connection, progress, ct);
        }

        await ResumeRequestsAsync(connection, progress, ct);
        lock (_gate)
        {
            if (_initialLeft == 0)
                _initialDone.TrySetResult();
        }

        var workers = new List<Task>();
        for (var i = 0; i < _config.Parallelism; i++)
            workers.Add(new ChunkWorker(_context, Coordinator, _book, RangeDone).RunAsync(NextAsync, ct));
        var all = Task.WhenAll(workers);
        var report = ReportAsync(ct);
        var watch = WatchAsync(connection, ct);
        await await Task.WhenAny(all, report, watch);
    }

    private async ValueTask<RangeWork?> NextAsync(CancellationToken ct) => await _work.Reader.ReadAsync(ct);

    /// <summary>The tables to snapshot at the start of a session, from the publication and the recorded progress.</summary>
    private async Task PlanAsync(NpgsqlConnection connection, IReadOnlyDictionary<string, SnapshotTableProgress> progress, CancellationToken ct)
    {
        var tables = await SnapshotTableCatalog.LoadAsync(connection, _context.Config.Postgres.Publication, ct);
        // A new slot misses every row that existed before it. when_needed snapshots again then, even
        // after an earlier complete snapshot; initial only when no snapshot is recorded.
        var fresh = progress.Values.All(p => p.Where is not null) || (_source.SlotCreated && _config.Mode == SnapshotMode.WhenNeeded && !_book.StartedThisRun);
        if (fresh)
        {
            _book.Clear();
            _book.StartedThisRun = true;
        }

        var snapshotId = Guid.NewGuid().ToString("N");
        foreach (var table in tables)
        {
            lock (_gate)
                _known.Add(table.RelationId);
            if (fresh)
            {
                await StartAsync(connection, table, snapshotId, initial: true, ct);
            }
            else if (!progress.TryGetValue(table.QualifiedName, out var record))
            {
                if (_config.NewTables)
                    await StartAsync(connection, table, snapshotId, initial: true, ct);
            }
            else if (record.State != SnapshotTableState.Done)
            {
                Resume(table, record);
            }
        }
    }

    /// <summary>On-demand requests an earlier session or process accepted but did not finish: they go on, in every mode.</summary>
    private async Task ResumeRequestsAsync(NpgsqlConnection connection, IReadOnlyDictionary<string, SnapshotTableProgress> progress, CancellationToken ct)
    {
        var unfinished = progress.Values.Where(p => p.Where is not null && p.State != SnapshotTableState.Done).ToList();
        if (unfinished.Count == 0)
            return;
        var tables = await SnapshotTableCatalog.LoadAsync(connection, _context.Config.Postgres.Publication, ct);
        foreach (var record in unfinished)
        {
            if (tables.FirstOrDefault(t => t.QualifiedName == record.Table) is { } table)
                Resume(table, record);
            else
                _logger.LogWarning("The unfinished snapshot request for {Table} (where {Where}) is not resumed: the table left publication {Publication}",
                    record.Table, record.Where, _context.Config.Postgres.Publication);
        }
    }

    private async Task StartAsync(NpgsqlConnection connection, SnapshotTable table, string snapshotId, bool initial, CancellationToken ct, string? where = null)
    {
        if (table.RefusalReason is { } reason)
        {
            _logger.LogError("Snapshot refused: {Reason}", reason);
            return;
        }

        // A large table is split into key ranges that the readers take in parallel.
        var split = where is null && _config.Parallelism > 1 && table.EstimatedRows > 2L * _config.ChunkSize;
        var ranges = split ? await KeyRangeSplitter.SplitAsync(connection, table, _config.Parallelism, ct) : [KeyRange.All];
        var states = new RangeState[ranges.Count];
        for (var i = 0; i < states.Length; i++)
            states[i] = new RangeState(ranges[i], null, false);
        var types = await _source.TypesIncludingAsync(connection, table.Columns.Select(c => c.TypeOid), ct);
        var job = new TableJob(table, table.ToTableInfo(types), snapshotId, states, 0, where) { Initial = initial };
        _book.Set(job.Capture());
        _logger.LogInformation(where is null ? "Snapshot of {Table} starts: about {Rows} rows in {Ranges} range(s)" : "On-demand snapshot of {Table} starts (where {Where})",
            table.QualifiedName, where ?? (object)Math.Max(0, table.EstimatedRows), ranges.Count);
        Enqueue(job);
    }

    private void Resume(SnapshotTable table, SnapshotTableProgress record)
    {
        if (table.RefusalReason is { } reason)
        {
            _logger.LogError("Snapshot refused: {Reason}", reason);
            return;
        }

        var states = new RangeState[record.Ranges.Count];
        for (var i = 0; i < states.Length; i++)
        {
            var range = record.Ranges[i];
            states[i] = new RangeState(new KeyRange(range.Lower, range.Upper), range.LastKey, range.Done);
        }

        var job = new TableJob(table, table.ToTableInfo(_source.Types), record.SnapshotId, states, record.RowsRead, record.Where) { Initial = record.Where is null };
        _context.Metrics.Snapshot.Resumed(table.QualifiedName, record.RowsRead);
        _logger.LogInformation(record.Where is null ? "Snapshot of {Table} resumes after {Rows} rows acknowledged, at {Points}" : "On-demand snapshot of {Table} resumes after {Rows} rows acknowledged, at {Points}",
            table.QualifiedName, record.RowsRead,
            string.Join("; ", record.Ranges.Select(r => r.Done ? "done" : r.LastKey is null ? "range start" : "after key (" + string.Join(", ", r.LastKey) + ")")));
        Enqueue(job);
    }

    private void Enqueue(TableJob job)
    {
        lock (_gate)
        {
            var left = job.Ranges.Count(r => !r.Done);
            _rangesLeft[job] = left;
            if (job.Initial)
                _initialLeft++;
            if (left == 0)
                Finish(job);
        }

        for (var i = 0; i < job.Ranges.Count; i++)
        {
            if (!job.Ranges[i].Done)
                _work.Writer.TryWrite(new RangeWork(job, i));
        }

        _context.Metrics.Snapshot.TablesRemaining(Remaining());
    }

    private void RangeDone(RangeWork work)
    {
        lock (_gate)
        {
            if (--_rangesLeft[work.Job] == 0)
                Finish(work.Job);
        }

        _context.Metrics.Snapshot.TablesRemaining(Remaining());
    }

    private void Finish(TableJob job)
    {
        _rangesLeft.Remove(job);
        _logger.LogInformation("Snapshot of {Table} done: {Rows} rows read in {Seconds:0.0} s, {Dropped} of them not emitted because the stream carried a newer state",
            job.Table.QualifiedName, job.RowsRead, job.Elapsed.Elapsed.TotalSeconds, job.Dropped);
        if (job.Initial && --_initialLeft == 0)
            _initialDone.TrySetResult();
    }

    private int Remaining()
    {
        lock (_gate)
            return _rangesLeft.Count;
    }

    private bool IsKnown(uint relation)
    {
        lock (_gate)
            return _known.Contains(relation);
    }
}
