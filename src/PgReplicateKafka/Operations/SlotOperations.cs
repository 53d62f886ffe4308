using System.Text.Json;
using System.Text.Json.Serialization;
using Npgsql;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Source;

namespace PgReplicateKafka.Operations;

/// <summary>The replication slot as PostgreSQL sees it, for the <c>status</c> command.</summary>
public sealed record SlotStatus(
    [property: JsonPropertyName("slot")] string Slot,
    [property: JsonPropertyName("plugin")] string Plugin,
    [property: JsonPropertyName("database")] string Database,
    [property: JsonPropertyName("active")] bool Active,
    [property: JsonPropertyName("active_pid")] int? ActivePid,
    [property: JsonPropertyName("confirmed_flush_lsn")] string? ConfirmedFlushLsn,
    [property: JsonPropertyName("restart_lsn")] string? RestartLsn,
    [property: JsonPropertyName("current_wal_lsn")] string CurrentWalLsn,
    [property: JsonPropertyName("lag_bytes")] long? LagBytes,
    [property: JsonPropertyName("wal_retained_bytes")] long? WalRetainedBytes)
{
    public string ToJson() => JsonSerializer.Serialize(this);

    public void WriteTo(TextWriter output)
    {
        output.WriteLine($"slot                 {Slot} (plugin {Plugin}, database {Database})");
        output.WriteLine($"active               {(Active ? $"yes (PID {ActivePid})" : "no")}");
        output.WriteLine($"confirmed_flush_lsn  {ConfirmedFlushLsn ?? "(none)"}");
        output.WriteLine($"restart_lsn          {RestartLsn ?? "(none)"}");
        output.WriteLine($"current_wal_lsn      {CurrentWalLsn}");
        output.WriteLine($"lag_bytes            {LagBytes?.ToString() ?? "(unknown)"}");
        output.WriteLine($"wal_retained_bytes   {WalRetainedBytes?.ToString() ?? "(unknown)"}");
    }
}

/// <summary>The <c>status</c> and <c>slot drop</c> commands.</summary>
public static class SlotOperations
{
    public static async Task<SlotStatus> StatusAsync(PostgresConfig config, CancellationToken ct)
    {
        await using var connection = await PostgresConnections.OpenCatalogAsync(config, ct);
        await using var command = new NpgsqlCommand("""
            SELECT slot_name, coalesce(plugin, '(physical)'), coalesce(database, ''), active, active_pid,
                   confirmed_flush_lsn::text, restart_lsn::text, pg_current_wal_lsn()::text,
                   pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint,
                   pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint
            FROM pg_replication_slots WHERE slot_name = $1
            """, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = config.SlotName });
        await using var reader = await command.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct))
            throw Missing(config);
        return new SlotStatus(
            reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetBoolean(3),
            reader.IsDBNull(4) ? null : reader.GetInt32(4),
            reader.IsDBNull(5) ? null : reader.GetString(5),
            reader.IsDBNull(6) ? null : reader.GetString(6),
            reader.GetString(7),
            reader.IsDBNull(8) ? null : reader.GetInt64(8),
            reader.IsDBNull(9) ? null : reader.GetInt64(9));
    }

    /// <summary>Drops the slot, releasing the WAL it retains; refuses while a replicator uses it.</summary>
    public static async Task DropAsync(PostgresConfig config, CancellationToken ct)
    {
        var status = await StatusAsync(config, ct);
        if (status.Active)
            throw InUse(config, status.ActivePid);

        await using var connection = await PostgresConnections.OpenCatalogAsync(config, ct);
        await using var drop = new NpgsqlCommand("SELECT pg_drop_replication_slot($1)", connection);
        drop.Parameters.Add(new NpgsqlParameter { Value = config.SlotName });
        try
        {
            await drop.ExecuteNonQueryAsync(ct);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.ObjectInUse)
        {
            throw InUse(config, null, e);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UndefinedObject)
        {
            throw Missing(config);
        }
        catch (PostgresException e)
        {
            throw new PostgresSetupException(
                $"cannot drop replication slot \"{config.SlotName}\": {e.MessageText} (SQLSTATE {e.SqlState}); the role needs REPLICATION", e);
        }
    }

    private static PostgresSetupException Missing(PostgresConfig config) => new(
        $"replication slot \"{config.SlotName}\" does not exist on {config.Host}:{config.Port}: run creates it on first start; " +
        "check [postgres] slot_name and host if you expected it (SELECT slot_name FROM pg_replication_slots)");

    private static PostgresSetupException InUse(PostgresConfig config, int? pid, Exception? inner = null) => new(
        $"replication slot \"{config.SlotName}\" is in use{(pid is null ? "" : $" by PID {pid}")}: stop the replicator streaming from it " +
        "(SIGTERM), then drop the slot", inner);
}
