using Npgsql;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Events;
using PgReplicateKafka.Events.Values;
using PgReplicateKafka.Operations.Verify;
using PgReplicateKafka.Sink;
using PgReplicateKafka.Source;
using PgReplicateKafka.Source.Snapshot;

namespace PgReplicateKafka.Operations;

/// <summary>
/// The <c>verify</c> command: replays a table's topic per key and compares the result with the table as
/// it is now. Streams both sides: the replay keeps digests per key, and the table is read in key-ordered
/// pages, each row serialized as a READ event would be and ticked off the replay.
/// </summary>
public static class VerifyCommand
{
    public const int ExampleLimit = 10;

    private const int PageRows = 5_000;

    public static async Task<VerifyReport> RunAsync(ReplicatorConfig config, string table, CancellationToken ct)
    {
        await using var connection = await SnapshotConnection.OpenAsync(config.Postgres, ct);
        var (target, types) = await Query(config.Postgres, table, async () =>
        {
            var found = await TableArgument.FindAsync(connection, config.Postgres, table, ct);
            return (found, await PostgresCatalog.LoadTypesAsync(connection, ct));
        });
        target.EnsureSnapshottable();
        var info = target.ToTableInfo(types);
        var topic = new TopicRouter(config.Kafka.TopicPrefix).TopicFor(info);

        using var fingerprint = new RowFingerprint(info);
        var replay = new TopicReplay(fingerprint, new RowKey(info));
        var partitions = await Task.Run(() => TopicReader.ReadToEnd(config.Kafka, topic, replay.Apply, ct), ct);
        var report = new VerifyReport(target.QualifiedName, topic, partitions, replay.Records, replay.LiveKeys());

        var serializer = new EventSerializer(config.Postgres.Database, FormatOptions.From(config.Format));
        var transaction = new SourceTransaction(0, DateTime.UnixEpoch);
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
                    var key = serializer.SerializeKey(change)!;
                    if (!replay.TryTake(key, out var digest, out var mask))
                    {
                        report.Missing.Add(key);
                        continue;
                    }

                    var value = serializer.SerializeValue(change, 0);
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
