using System.Globalization;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Npgsql;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Sink;
using PgReplicateKafka.Source.Snapshot;

namespace PgReplicateKafka.Pipeline.Snapshot;

public sealed partial class SnapshotScheduler
{
    /// <summary>Tables added to the publication (polled, or hinted by a change of an unknown relation) and on-demand requests.</summary>
    private Task WatchAsync(NpgsqlConnection connection, CancellationToken ct)
    {
        var discover = _config.Mode != SnapshotMode.Never && _config.NewTables;
        return WatchLoopAsync(_requests.Reader, _discover, DiscoveryInterval,
            request => RequestAsync(connection, request, ct), discover ? () => DiscoverAsync(connection, ct) : null, ct);
    }

    /// <summary>
    /// Hands each request to <paramref name="onRequest"/>, and calls <paramref name="onPoll"/> (if any)
    /// at each hint or every <paramref name="interval"/>, until cancelled.
    /// </summary>
    internal static async Task WatchLoopAsync(
        ChannelReader<SnapshotTableProgress> requests, SemaphoreSlim hints, TimeSpan interval,
        Func<SnapshotTableProgress, Task> onRequest, Func<Task>? onPoll, CancellationToken ct)
    {
        // One pending read and one pending wait across the loop: an abandoned one would swallow the
        // next request or hint.
        var request = requests.ReadAsync(ct).AsTask();
        var hint = hints.WaitAsync(interval, ct);
        while (true)
        {
            // Every task here completes at once when cancelled: without this the loop would spin.
            ct.ThrowIfCancellationRequested();
            await Task.WhenAny(request, hint);
            if (request.IsCompleted)
            {
                await onRequest(await request);
                request = requests.ReadAsync(ct).AsTask();
            }

            if (hint.IsCompleted)
            {
                await hint;
                if (onPoll is not null)
                    await onPoll();
                hint = hints.WaitAsync(interval, ct);
            }
        }
    }

    private async Task DiscoverAsync(NpgsqlConnection connection, CancellationToken ct)
    {
        var tables = await SnapshotTableCatalog.LoadAsync(connection, _context.Config.Postgres.Publication, ct);
        foreach (var table in tables)
        {
            lock (_gate)
            {
                if (!_known.Add(table.RelationId))
                    continue;
            }

            _logger.LogInformation("Table {Table} joined publication {Publication}", table.QualifiedName, _context.Config.Postgres.Publication);
            await StartAsync(connection, table, Guid.NewGuid().ToString("N"), initial: false, ct);
        }
    }

    /// <summary>
    /// A read of <paramref name="job"/>'s table failed on its layout: the table as published now, if it still is
    /// under its name with a key; otherwise its snapshot stops (a renamed table can be requested again by its new name).
    /// </summary>
    private async Task<bool> RelayoutAsync(NpgsqlConnection connection, TableJob job, CancellationToken ct)
    {
        var tables = await SnapshotTableCatalog.LoadAsync(connection, _context.Config.Postgres.Publication, ct);
        var table = tables.FirstOrDefault(t => t.RelationId == job.Table.RelationId);
        var problem = table is null ? $"it was dropped or left publication {_context.Config.Postgres.Publication}"
            : table.QualifiedName != job.Table.QualifiedName ? $"it was renamed to {table.QualifiedName}; request a snapshot of it under that name if needed"
            : table.RefusalReason;
        if (problem is not null)
        {
            job.StoppedBecause = problem;
            return false;
        }

        var types = await _source.TypesIncludingAsync(connection, [.. table!.Columns.Select(c => c.TypeOid)], _logger, ct);
        job.Relayout(new TableLayout(table, table.ToTableInfo(types)));
        _logger.LogInformation("Table {Table} changed under its snapshot; it goes on with columns {Columns}",
            table.QualifiedName, string.Join(", ", table.Columns.Select(c => c.Name)));
        return true;
    }

    private async Task RequestAsync(NpgsqlConnection connection, SnapshotTableProgress request, CancellationToken ct)
    {
        // Resumed at the start of the session, or done already: the request was streamed again.
        if (_book.Contains(request.Key))
            return;
        var tables = await SnapshotTableCatalog.LoadAsync(connection, _context.Config.Postgres.Publication, ct);
        var table = tables.FirstOrDefault(t => t.QualifiedName == request.Table);
        if (table is null)
        {
            _logger.LogWarning("Ignored the snapshot request for {Table}: it is not in publication {Publication} (name it as schema.table)",
                request.Table, _context.Config.Postgres.Publication);
            return;
        }

        await StartAsync(connection, table, request.SnapshotId, initial: false, ct, request.Where);
    }

    /// <summary>A line per running table every few seconds: rows, rate, share of the estimate and the time left.</summary>
    private async Task ReportAsync(CancellationToken ct)
    {
        while (true)
        {
            await Task.Delay(ReportInterval, ct);
            TableJob[] jobs;
            lock (_gate)
                jobs = [.. _rangesLeft.Keys];
            foreach (var job in jobs)
            {
                var rows = job.RowsRead;
                var seconds = Math.Max(0.001, job.Elapsed.Elapsed.TotalSeconds);
                var rate = (rows - job.RowsAtStart) / seconds;
                var estimate = job.Table.EstimatedRows;
                var percent = estimate > 0 ? Math.Min(100.0, 100.0 * rows / estimate).ToString("0.0", CultureInfo.InvariantCulture) + "%" : "?";
                var eta = estimate > rows && rate > 0 ? TimeSpan.FromSeconds((estimate - rows) / rate).ToString(@"hh\:mm\:ss", CultureInfo.InvariantCulture) : "?";
                _logger.LogInformation("Snapshot of {Table}: {Rows} rows, {Rate:0} rows/s, {Percent} of about {Estimate}, ETA {Eta}",
                    job.Table.QualifiedName, rows, rate, percent, Math.Max(0, estimate), eta);
            }
        }
    }
}
