using Npgsql;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Events;
using PgReplicateKafka.Events.Values;
using PgReplicateKafka.Operations.Verify;
using PgReplicateKafka.Pipeline.Format;
using PgReplicateKafka.Sink;
using PgReplicateKafka.Source;
using PgReplicateKafka.Source.Snapshot;

namespace PgReplicateKafka.Operations;

/// <summary>
/// The <c>verify</c> command: replays a table's topic per key and compares the result with the table as
/// it is now. Streams both sides: the replay keeps digests per key, and the table is read in key-ordered
/// pages, each row written as the replicator writes a READ event of it (the configured envelope and its
/// options, the table's [[tables]] rule) and ticked off the replay.
/// </summary>
public static class VerifyCommand
{
    public const int ExampleLimit = 10;

    private const int PageRows = 5_000;

    public static async Task<VerifyReport> RunAsync(ReplicatorConfig config, string table, CancellationToken ct)
    {
        await using var connection = await SnapshotConnection.OpenAsync(config.Postgres, ct);
        var enumLabels = new Dictionary<uint, IReadOnlyList<string>>();
        var (target, types) = await Query(config.Postgres, table, async () =>
        {
            var found = await TableArgument.FindAsync(connection, config.Postgres, table, ct);
            var loaded = await PostgresCatalog.LoadTypesAsync(connection, ct);
            await PostgresCatalog.LoadEnumLabelsAsync(connection, enumLabels, ct);
            return (found, loaded);
        });
        target.EnsureSnapshottable();
        var info = target.ToTableInfo(types);
        var route = new TopicRouter(config).Route(info);
        var writer = new EnvelopeWriter(config, enumLabels);
        var transaction = new SourceTransaction(0, DateTime.UnixEpoch);

        using var fingerprint = new RowFingerprint(route.Table, UnavailableRow(info, route.Table, writer, transaction));
        var replay = new TopicReplay(fingerprint, new RowKey(route.Table));
        var partitions = await Task.Run(() => TopicReader.ReadToEnd(config.Kafka, route.Topic, replay.Apply, ct), ct);
        var report = new VerifyReport(target.QualifiedName, route.Topic, partitions, replay.Records, replay.LiveKeys());

        var reader = new ChunkReader(target, PageRows);
        string[]? after = null;
        while (true)
        {
            var chunk = await Query(config.Postgres, target.QualifiedName, () => reader.ReadAsync(connection, after, ct));
            foreach (var row in chunk.Rows)
            {
                try
                {
                    report.Rows++;
                    var change = new ChangeEvent(info, ChangeOperation.Read, 0, transaction, null, row);
                    change.UseProjection(route.Table);
                    var key = writer.Key(change)!;
                    if (!replay.TryTake(key, out var digest, out var mask))
                    {
                        report.Missing.Add(key);
                        continue;
                    }

                    var value = writer.Value(change, null);
                    Envelope.TryParse(value, out var envelope, out _);
                    if (fingerprint.OfRow(envelope.After(value), mask) != digest)
                        report.Different.Add(key);
                }
                finally
                {
                    row.Release();
                }
            }

            if (chunk.IsLast)
                break;
            after = chunk.LastKey;
        }

        report.Extra.Count = replay.Remaining(report.Extra.Examples, ExampleLimit);
        report.Unreadable.Count = replay.Unreadable;
        report.Unreadable.Examples.AddRange(replay.UnreadableExamples);
        return report;
    }

    /// <summary>The <c>after</c> object of an update whose every value is an unchanged TOASTed one, as the envelope writes it.</summary>
    private static byte[] UnavailableRow(TableInfo table, TableInfo projected, EnvelopeWriter writer, SourceTransaction transaction)
    {
        var row = new RowData(table.Columns.Count, 0);
        try
        {
            for (var i = 0; i < table.Columns.Count; i++)
                row.SetUnchangedToast(i);
            var change = new ChangeEvent(table, ChangeOperation.Update, 0, transaction, null, row);
            change.UseProjection(projected);
            var value = writer.Value(change, null);
            Envelope.TryParse(value, out var envelope, out _);
            return envelope.After(value).ToArray();
        }
        finally
        {
            row.Release();
        }
    }

    /// <summary>Runs catalog or table reads, turning a PostgreSQL failure into exit code 3 with what was being read.</summary>
    private static async Task<T> Query<T>(PostgresConfig config, string table, Func<Task<T>> read)
    {
        try
        {
            return await read();
        }
        catch (NpgsqlException e) when (e is not PostgresException { SqlState: PostgresErrorCodes.QueryCanceled })
        {
            var detail = e is PostgresException pe ? $"{pe.MessageText} (SQLSTATE {pe.SqlState})" : e.Message;
            throw new PostgresSetupException(
                $"reading {table} from PostgreSQL at {PostgresConnections.Describe(config)} failed: {detail}; the role needs SELECT on the table", e);
        }
    }
}
