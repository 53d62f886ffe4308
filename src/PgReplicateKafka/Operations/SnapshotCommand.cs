using Npgsql;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Source;
using PgReplicateKafka.Source.Snapshot;

namespace PgReplicateKafka.Operations;

/// <summary>What <c>snapshot</c> asked for, and where in the WAL.</summary>
public sealed record SnapshotRequested(SnapshotRequest Request, ulong Lsn)
{
    public void WriteTo(TextWriter output)
    {
        var rows = Request.Where is null ? "every row" : $"the rows where {Request.Where}";
        output.WriteLine($"Requested a snapshot of {Request.Table} ({rows}) at LSN {Events.Lsn.Format(Lsn)}.");
        output.WriteLine("The replicator streaming from the slot will backfill them as READ events when it reaches the request in the stream.");
    }
}

/// <summary>
/// The <c>snapshot</c> command: asks the running replicator to backfill a table by writing a
/// <see cref="SnapshotRequest"/> into the WAL, after checking here what the replicator would reject later.
/// </summary>
public static class SnapshotCommand
{
    public static async Task<SnapshotRequested> RunAsync(PostgresConfig config, string table, string? where, CancellationToken ct)
    {
        await using var connection = await SnapshotConnection.OpenAsync(config, ct);
        var target = await TableArgument.FindAsync(connection, config, table, ct);
        target.EnsureSnapshottable();
        if (where is not null)
            await ValidateWhereAsync(connection, target, where, ct);

        // The request travels through the slot: without one, no replicator would ever read it.
        if (await ReplicationSlots.StatusAsync(connection, config.SlotName, ct) is null)
        {
            throw new PostgresSetupException(
                $"replication slot \"{config.SlotName}\" does not exist, so no replicator would see the request: start the replicator " +
                "(run creates the slot and snapshots the tables its [snapshot] settings name), then request the snapshot");
        }

        var request = new SnapshotRequest(target.QualifiedName, where);
        try
        {
            return new SnapshotRequested(request, await Watermarks.EmitAsync(connection, request, ct));
        }
        catch (PostgresException e)
        {
            throw new PostgresSetupException(
                $"could not write the snapshot request into the WAL: {e.MessageText} (SQLSTATE {e.SqlState}); " +
                "pg_logical_emit_message needs the REPLICATION attribute or a superuser", e);
        }
    }

    /// <summary>
    /// Plans the condition against the table in a read-only transaction, under the session settings the
    /// chunk reads use, so a typo fails here with exit code 2 rather than later in the replicator.
    /// </summary>
    private static async Task ValidateWhereAsync(NpgsqlConnection connection, SnapshotTable table, string where, CancellationToken ct)
    {
        await using var transaction = await connection.BeginTransactionAsync(ct);
        try
        {
            await using (var readOnly = new NpgsqlCommand("SET TRANSACTION READ ONLY", connection, transaction))
                await readOnly.ExecuteNonQueryAsync(ct);
            await using var explain = new NpgsqlCommand($"EXPLAIN SELECT 1 FROM {table.SqlName} WHERE ({where})", connection, transaction);
            await using var reader = await explain.ExecuteReaderAsync(ct);
            // Npgsql sends text with semicolons as several statements: a condition must be one expression.
            if (await reader.NextResultAsync(ct))
                throw Invalid(where, "it holds more than one statement");
        }
        catch (PostgresException e)
        {
            throw Invalid(where, $"{e.MessageText} (SQLSTATE {e.SqlState})", e);
        }
        finally
        {
            await transaction.RollbackAsync(CancellationToken.None);
        }
    }

    private static ConfigException Invalid(string where, string reason, Exception? inner = null) => new(
        $"--where \"{where}\" is not a valid condition on the table: {reason}; write an SQL boolean expression over its columns, " +
        "e.g. --where \"id < 1000\" (it runs with search_path = pg_catalog, so qualify other schemas' functions)", inner);
}
