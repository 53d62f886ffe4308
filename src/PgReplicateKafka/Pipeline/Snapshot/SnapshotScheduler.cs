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
    private readonly ClusterIdentity _cluster;
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
    private readonly List<string> _refused = [];

    // The slot incarnation this session's records are for; null in mode never, which records none.
    private SlotIncarnation? _slot;

    /// <param name="cluster">The server the session streams from.</param>
    public SnapshotScheduler(SessionContext context, SnapshotBook book, SourceState source, ClusterIdentity cluster)
    {
        _context = context;
        _book = book;
        _source = source;
        _cluster = cluster;
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

    /// <summary>Why tables of the initial snapshot were refused (no key to page by or to reconcile with): it is incomplete without them.</summary>
    public IReadOnlyList<string> Refused
    {
        get { lock (_gate) return [.. _refused]; }
    }

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

        var recorded = await _book.LoadAsync(ct);
        if (_config.Mode != SnapshotMode.Never)
        {
            await _book.Store.EnsureTopicAsync();
            _slot = await CurrentSlotAsync(recorded.Slot, ct);
            await PlanAsync(connection, recorded.Tables, _slot, ct);
        }

        await ResumeRequestsAsync(connection, recorded.Tables, ct);
        lock (_gate)
        {
            if (_initialLeft == 0)
                _initialDone.TrySetResult();
        }

        var workers = new List<Task>();
        for (var i = 0; i < _config.Parallelism; i++)
            workers.Add(new ChunkWorker(_context, Coordinator, _book, RangeDone, RelayoutAsync).RunAsync(NextAsync, ct));
        var all = Task.WhenAll(workers);
        var report = ReportAsync(ct);
        var watch = WatchAsync(connection, ct);
        await await Task.WhenAny(all, report, watch);
    }

    private async ValueTask<RangeWork?> NextAsync(CancellationToken ct) => await _work.Reader.ReadAsync(ct);

    /// <summary>The slot incarnation recorded last, if it is the slot streamed now; else this slot, recorded as the new one.</summary>
    private async Task<SlotIncarnation> CurrentSlotAsync(SlotIncarnation? recorded, CancellationToken ct)
    {
        var position = (ulong)_source.StartLsn;
        var rejection = recorded is null ? null : SlotRule.Rejection(recorded, _cluster.SystemId, position);
        if (recorded is not null && rejection is null)
            return recorded;

        // A slot none was recorded for (created by hand, or under mode never), or not the one recorded: this one, from where it stands.
        var slot = new SlotIncarnation(_cluster.SystemId, position);
        if (rejection is not null)
        {
            _logger.LogWarning("The snapshot progress in {Topic} was recorded for another replication slot than {Slot}: {Reason}",
                _book.Store.Topic, _context.Config.Postgres.SlotName, rejection);
        }

        await _book.RecordSlotAsync(slot, ct);
        return slot;
    }

    /// <summary>The tables to snapshot at the start of a session, from the publication and the progress recorded.</summary>
    private async Task PlanAsync(NpgsqlConnection connection, IReadOnlyDictionary<string, SnapshotTableProgress> recorded, SlotIncarnation slot, CancellationToken ct)
    {
        var tables = await SnapshotTableCatalog.LoadAsync(connection, _context.Config.Postgres.Publication, ct);
        var counted = SlotRule.Counted(_config.Mode, recorded, slot);
        var snapshotId = Guid.NewGuid().ToString("N");
        if (counted.Count == 0)
        {
            // Nothing recorded: every table. The plan is recorded before its first chunk, so a process that
            // dies early resumes each table planned, not only those it saw a chunk of acknowledged.
            var jobs = new List<TableJob>();
            foreach (var table in tables)
            {
                lock (_gate)
                    _known.Add(table.RelationId);
                if (await PrepareAsync(connection, table, snapshotId, initial: true, ct) is { } job)
                    jobs.Add(job);
            }

            await _book.Store.WriteAsync([.. jobs.Select(j => _book.Store.Record(j.Capture()))], ct);
            foreach (var job in jobs)
                Enqueue(job);
            return;
        }

        await AdoptAsync(counted.Values.Where(r => r.Slot != slot && r.State == SnapshotTableState.Done).ToList(), slot, ct);
        foreach (var table in tables)
        {
            lock (_gate)
                _known.Add(table.RelationId);
            if (!counted.TryGetValue(table.QualifiedName, out var record))
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

    /// <summary>
    /// initial and initial_only: snapshots recorded for another slot still count (as in Debezium, whose initial
    /// mode snapshots only without an offset), but the rows changed while no slot kept the WAL are missing in
    /// Kafka. Said once: the records are then taken over by this slot.
    /// </summary>
    private async Task AdoptAsync(List<SnapshotTableProgress> foreign, SlotIncarnation slot, CancellationToken ct)
    {
        if (foreign.Count == 0)
            return;
        _logger.LogWarning(
            "The snapshot of {Tables} was recorded for another replication slot or cluster: [snapshot] mode = \"{Mode}\" does not snapshot them again, " +
            "so changes made while no slot kept the WAL are missing in Kafka. Set mode = \"when_needed\" to snapshot again whenever the slot is new, " +
            "or request a snapshot (pg-replicate-kafka snapshot --table)",
            string.Join(", ", foreign.Select(r => r.Table).Order(StringComparer.Ordinal)), _config.Mode == SnapshotMode.InitialOnly ? "initial_only" : "initial");
        var adopted = foreign.Select(r => r with { Slot = slot }).ToList();
        await _book.Store.WriteAsync([.. adopted.Select(_book.Store.Record)], ct);
        foreach (var record in adopted)
            _book.Set(record);
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
        if (await PrepareAsync(connection, table, snapshotId, initial, ct, where) is { } job)
            Enqueue(job);
    }

    /// <summary>A new snapshot of <paramref name="table"/>, split into key ranges; null when the table is refused.</summary>
    private async Task<TableJob?> PrepareAsync(NpgsqlConnection connection, SnapshotTable table, string snapshotId, bool initial, CancellationToken ct, string? where = null)
    {
        if (table.RefusalReason is { } reason)
        {
            Refuse(reason, initial);
            return null;
        }

        // A large table is split into key ranges that the readers take in parallel.
        var split = where is null && _config.Parallelism > 1 && table.EstimatedRows > 2L * _config.ChunkSize;
        var ranges = split ? await KeyRangeSplitter.SplitAsync(connection, table, _config.Parallelism, ct) : [KeyRange.All];
        var states = new RangeState[ranges.Count];
        for (var i = 0; i < states.Length; i++)
            states[i] = new RangeState(ranges[i], null, false);
        var types = await _source.TypesIncludingAsync(connection, [.. table.Columns.Select(c => c.TypeOid)], _logger, ct);
        var job = new TableJob(table, table.ToTableInfo(types), snapshotId, states, 0, where) { Initial = initial, Slot = _slot };
        _book.Set(job.Capture());
        _logger.LogInformation(where is null ? "Snapshot of {Table} starts: about {Rows} rows in {Ranges} range(s)" : "On-demand snapshot of {Table} starts (where {Where})",
            table.QualifiedName, where ?? (object)Math.Max(0, table.EstimatedRows), ranges.Count);
        return job;
    }

    private void Resume(SnapshotTable table, SnapshotTableProgress record)
    {
        if (table.RefusalReason is { } reason)
        {
            Refuse(reason, initial: record.Where is null);
            return;
        }

        var states = new RangeState[record.Ranges.Count];
        for (var i = 0; i < states.Length; i++)
        {
            var range = record.Ranges[i];
            states[i] = new RangeState(new KeyRange(range.Lower, range.Upper), range.LastKey, range.Done);
        }

        // Its next records are this slot's: under initial a snapshot of another slot is finished, not restarted.
        var job = new TableJob(table, table.ToTableInfo(_source.Types), record.SnapshotId, states, record.RowsRead, record.Where) { Initial = record.Where is null, Slot = _slot };
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

    private void Refuse(string reason, bool initial)
    {
        _logger.LogError("Snapshot refused: {Reason}", reason);
        if (initial)
        {
            lock (_gate)
                _refused.Add(reason);
        }
    }

    private void Finish(TableJob job)
    {
        _rangesLeft.Remove(job);
        if (job.StoppedBecause is { } reason)
            _logger.LogWarning("Snapshot of {Table} stopped after {Rows} rows: {Reason}", job.Table.QualifiedName, job.RowsRead, reason);
        else
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
