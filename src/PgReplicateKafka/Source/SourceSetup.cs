using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Events.Values;
using PgReplicateKafka.Operations;

namespace PgReplicateKafka.Source;

/// <summary>What the replication stream needs that a plain SQL connection provides.</summary>
public sealed class SourceState(NpgsqlConnection catalog, NpgsqlLogSequenceNumber startLsn, bool slotCreated, TypeCatalog types) : IAsyncDisposable
{
    /// <summary>The slot was created by this start: nothing before it belongs to this stream.</summary>
    public bool SlotCreated { get; } = slotCreated;

    /// <summary>A plain SQL connection kept open for catalog look-ups while streaming.</summary>
    public NpgsqlConnection Catalog { get; } = catalog;

    /// <summary>The slot's confirmed position: streaming resumes after it.</summary>
    public NpgsqlLogSequenceNumber StartLsn { get; } = startLsn;

    public TypeCatalog Types { get; set; } = types;

    public ValueTask DisposeAsync() => Catalog.DisposeAsync();
}

/// <summary>
/// Prepares PostgreSQL for streaming: the preflight checks pass, the publication exists (or is created when asked), the slot
/// exists with the pgoutput plugin (created when missing), and the type catalog is loaded.
/// </summary>
public static class SourceSetup
{
    /// <param name="createSlot">
    /// Create the slot when it is missing: true on first start only. A slot that disappears while we
    /// run was dropped by someone, and silently recreating it would skip every change in between.
    /// </param>
    public static async Task<SourceState> PrepareAsync(PostgresConfig config, bool createSlot, ILogger logger, CancellationToken ct)
    {
        var connection = await PostgresConnections.OpenCatalogAsync(config, ct);
        try
        {
            // The same checks as the check command, so run fails with the same messages.
            var checks = new CheckReport(await PostgresChecks.RunAsync(connection, config, ct));
            foreach (var warning in checks.Results.Where(r => r.Outcome == CheckOutcome.Warning))
                logger.LogWarning("{Check}: {Message}", warning.Name, warning.Message);
            // A slot in use elsewhere is not an error for run: this instance is the standby.
            new CheckReport([.. checks.Results.Where(r => !r.SlotBusy)]).ThrowIfFailed();
            if (checks.Results.FirstOrDefault(r => r.SlotBusy) is { } busy)
                throw new SlotBusyException(busy.Message);

            await EnsurePublicationAsync(connection, config, logger, ct);
            var (startLsn, slotCreated) = await EnsureSlotAsync(connection, config, createSlot, logger, ct);
            var types = await TypeCatalog.LoadAsync(connection, ct);
            return new SourceState(connection, startLsn, slotCreated, types);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    public static string QuoteIdentifier(string name) => "\"" + name.Replace("\"", "\"\"") + "\"";

    /// <summary>Quotes "schema.table" or "table" (then in schema public) for SQL.</summary>
    public static string QuoteTable(string qualifiedName)
    {
        var dot = qualifiedName.IndexOf('.');
        return dot < 0
            ? QuoteIdentifier("public") + "." + QuoteIdentifier(qualifiedName)
            : QuoteIdentifier(qualifiedName[..dot]) + "." + QuoteIdentifier(qualifiedName[(dot + 1)..]);
    }

    /// <summary>Creates the publication when it is missing (the checks made sure create_publication allows it).</summary>
    private static async Task EnsurePublicationAsync(NpgsqlConnection connection, PostgresConfig config, ILogger logger, CancellationToken ct)
    {
        await using (var exists = new NpgsqlCommand("SELECT count(*) FROM pg_publication WHERE pubname = $1", connection))
        {
            exists.Parameters.Add(new NpgsqlParameter { Value = config.Publication });
            if ((long)(await exists.ExecuteScalarAsync(ct))! > 0)
                return;
        }

        var tables = string.Join(", ", config.Tables.Select(QuoteTable));
        await using var create = new NpgsqlCommand($"CREATE PUBLICATION {QuoteIdentifier(config.Publication)} FOR TABLE {tables}", connection);
        try
        {
            await create.ExecuteNonQueryAsync(ct);
        }
        catch (PostgresException e)
        {
            throw new PostgresSetupException(
                $"cannot create publication \"{config.Publication}\" for [postgres] tables: {e.MessageText} (SQLSTATE {e.SqlState})", e);
        }

        logger.LogInformation("Created publication {Publication} for tables {Tables}", config.Publication, tables);
    }

    private static async Task<(NpgsqlLogSequenceNumber Lsn, bool Created)> EnsureSlotAsync(NpgsqlConnection connection, PostgresConfig config, bool create, ILogger logger, CancellationToken ct)
    {
        await using (var find = new NpgsqlCommand(
            "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1", connection))
        {
            // Plugin, database and activity were checked already.
            find.Parameters.Add(new NpgsqlParameter { Value = config.SlotName });
            await using var reader = await find.ExecuteReaderAsync(ct);
            if (await reader.ReadAsync(ct))
            {
                var lsn = NpgsqlLogSequenceNumber.Parse(reader.GetString(0));
                logger.LogInformation("Resuming replication slot {Slot} from {Lsn}", config.SlotName, lsn);
                return (lsn, false);
            }
        }

        if (!create)
        {
            throw new PostgresSetupException(
                $"replication slot \"{config.SlotName}\" was dropped while the replicator was running, so changes made since may be lost: " +
                "check who dropped it; restarting pg-replicate-kafka creates a new slot and streams from now on");
        }

        await using var command = new NpgsqlCommand("SELECT lsn::text FROM pg_create_logical_replication_slot($1, 'pgoutput')", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = config.SlotName });
        try
        {
            var lsn = NpgsqlLogSequenceNumber.Parse((string)(await command.ExecuteScalarAsync(ct))!);
            logger.LogInformation("Created replication slot {Slot} at {Lsn}", config.SlotName, lsn);
            return (lsn, true);
        }
        catch (PostgresException e)
        {
            throw new PostgresSetupException(
                $"cannot create replication slot \"{config.SlotName}\": {e.MessageText} (SQLSTATE {e.SqlState}). " +
                "Check wal_level = logical, free max_replication_slots, and that the role has REPLICATION", e);
        }
    }
}
