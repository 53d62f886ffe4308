using System.Text.Json;
using Npgsql;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Source;

namespace PgReplicateKafka.Operations;

/// <summary>How the <c>status</c> command prints the slot.</summary>
public static class SlotStatusOutput
{
    public static string ToJson(this SlotStatus status) => JsonSerializer.Serialize(status, OutputJson.Default.SlotStatus);

    public static void WriteTo(this SlotStatus status, TextWriter output)
    {
        output.WriteLine($"slot                 {status.Slot} (plugin {status.Plugin}, database {status.Database})");
        output.WriteLine($"active               {(status.Active ? $"yes (PID {status.ActivePid})" : "no")}");
        output.WriteLine($"confirmed_flush_lsn  {status.ConfirmedFlushLsn ?? "(none)"}");
        output.WriteLine($"restart_lsn          {status.RestartLsn ?? "(none)"}");
        output.WriteLine($"current_wal_lsn      {status.CurrentWalLsn}");
        output.WriteLine($"lag_bytes            {status.LagBytes?.ToString() ?? "(unknown)"}");
        output.WriteLine($"wal_retained_bytes   {status.WalRetainedBytes?.ToString() ?? "(unknown)"}");
        output.WriteLine($"wal_status           {status.WalStatus ?? "(unknown)"}");
        output.WriteLine($"safe_wal_size        {status.SafeWalSize?.ToString() ?? "(unlimited: max_slot_wal_keep_size = -1)"}");
        if (SlotRetention.Risk(status.WalStatus, status.SafeWalSize, status.MaxSlotWalKeepSize) is { } risk)
            output.WriteLine($"warning              {risk}");
    }
}

/// <summary>The <c>status</c> and <c>slot drop</c> commands.</summary>
public static class SlotOperations
{
    public static async Task<SlotStatus> StatusAsync(PostgresConfig config, CancellationToken ct)
    {
        await using var connection = await PostgresConnections.OpenCatalogAsync(config, ct);
        return await ReplicationSlots.StatusAsync(connection, config.SlotName, ct) ?? throw Missing(config);
    }

    /// <summary>Drops the slot, releasing the WAL it retains; refuses while a replicator uses it.</summary>
    public static async Task DropAsync(PostgresConfig config, CancellationToken ct)
    {
        var status = await StatusAsync(config, ct);
        if (status.Active)
            throw InUse(config, status.ActivePid);

        await using var connection = await PostgresConnections.OpenCatalogAsync(config, ct);
        try
        {
            await ReplicationSlots.DropAsync(connection, config.SlotName, ct);
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
