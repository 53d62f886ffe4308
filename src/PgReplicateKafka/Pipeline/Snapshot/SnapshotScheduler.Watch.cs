using System.Globalization;
using Microsoft.Extensions.Logging;
using Npgsql;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Sink;
using PgReplicateKafka.Source.Snapshot;

namespace PgReplicateKafka.Pipeline.Snapshot;

public sealed partial class SnapshotScheduler
{
    /// <summary>Tables added to the publication (polled, or hinted by a change of an unknown relation) and on-demand requests.</summary>
    private async Task WatchAsync(NpgsqlConnection connection, CancellationToken ct)
    {
        var discover = _config.Mode != SnapshotMode.Never && _config.NewTables;
        while (true)
        {
            var request = _requests.Reader.ReadAsync(ct).AsTask();
            var hint = _discover.WaitAsync(DiscoveryInterval, ct);
            await Task.WhenAny(request, hint);
            if (request.IsCompletedSuccessfully)
                await RequestAsync(connection, request.Result, ct);
            else if (discover)
                await DiscoverAsync(connection, ct);
            if (!request.IsCompleted)
            {
                // Keep the pending read: an abandoned one would swallow the next request.
                await RequestOrHintAsync(connection, request, discover, ct);
            }
        }
    }

    private async Task RequestOrHintAsync(NpgsqlConnection connection, Task<SnapshotTableProgress> request, bool discover, CancellationToken ct)
    {
        while (!request.IsCompleted)
        {
            var hint = _discover.WaitAsync(DiscoveryInterval, ct);
            if (await Task.WhenAny(request, hint) == request)
                break;
            if (discover)
                await DiscoverAsync(connection, ct);
        }

        await RequestAsync(connection, await request, ct);
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
