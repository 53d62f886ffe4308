using System.Text.Json.Serialization;
using Npgsql;
using NpgsqlTypes;

namespace PgReplicateKafka.Source;

/// <summary>The replication slot as pg_replication_slots shows it.</summary>
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
    [property: JsonPropertyName("wal_retained_bytes")] long? WalRetainedBytes,
    [property: JsonPropertyName("wal_status")] string? WalStatus,
    [property: JsonPropertyName("safe_wal_size")] long? SafeWalSize,
    [property: JsonPropertyName("max_slot_wal_keep_size")] long? MaxSlotWalKeepSize);

/// <summary>Every query on the replication slot: one place for pg_replication_slots and its functions.</summary>
public static class ReplicationSlots
{
    /// <summary>The slot's full status, or null when it does not exist.</summary>
    public static async Task<SlotStatus?> StatusAsync(NpgsqlConnection connection, string slotName, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand("""
            SELECT slot_name, coalesce(plugin, '(physical)'), coalesce(database, ''), active, active_pid,
                   confirmed_flush_lsn::text, restart_lsn::text, pg_current_wal_lsn()::text,
                   pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint,
                   pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint,
                   wal_status, safe_wal_size,
                   (SELECT nullif(setting::bigint, -1) * 1024 * 1024 FROM pg_settings WHERE name = 'max_slot_wal_keep_size')
            FROM pg_replication_slots WHERE slot_name = $1
            """, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = slotName });
        await using var reader = await command.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct))
            return null;
        return new SlotStatus(
            reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetBoolean(3),
            reader.IsDBNull(4) ? null : reader.GetInt32(4),
            reader.IsDBNull(5) ? null : reader.GetString(5),
            reader.IsDBNull(6) ? null : reader.GetString(6),
            reader.GetString(7),
            reader.IsDBNull(8) ? null : reader.GetInt64(8),
            reader.IsDBNull(9) ? null : reader.GetInt64(9),
            reader.IsDBNull(10) ? null : reader.GetString(10),
            reader.IsDBNull(11) ? null : reader.GetInt64(11),
            reader.IsDBNull(12) ? null : reader.GetInt64(12));
    }

    /// <summary>The slot's confirmed position, or null when it does not exist.</summary>
    public static async Task<NpgsqlLogSequenceNumber?> ConfirmedFlushAsync(NpgsqlConnection connection, string slotName, CancellationToken ct)
    {
        await using var find = new NpgsqlCommand("SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1", connection);
        find.Parameters.Add(new NpgsqlParameter { Value = slotName });
        return await find.ExecuteScalarAsync(ct) is string text ? NpgsqlLogSequenceNumber.Parse(text) : null;
    }

    /// <summary>The walsender streaming from the slot, or null when none is.</summary>
    public static async Task<int?> ActivePidAsync(NpgsqlConnection connection, string slotName, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand("SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = slotName });
        return await command.ExecuteScalarAsync(ct) is int pid ? pid : null;
    }

    /// <summary>Creates a logical slot with pgoutput, a failover slot when asked (PostgreSQL 17+); returns its consistent point.</summary>
    public static async Task<NpgsqlLogSequenceNumber> CreateAsync(NpgsqlConnection connection, string slotName, bool failover, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(failover
            ? "SELECT lsn::text FROM pg_create_logical_replication_slot($1, 'pgoutput', false, false, true)"
            : "SELECT lsn::text FROM pg_create_logical_replication_slot($1, 'pgoutput')", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = slotName });
        return NpgsqlLogSequenceNumber.Parse((string)(await command.ExecuteScalarAsync(ct))!);
    }

    public static async Task DropAsync(NpgsqlConnection connection, string slotName, CancellationToken ct)
    {
        await using var drop = new NpgsqlCommand("SELECT pg_drop_replication_slot($1)", connection);
        drop.Parameters.Add(new NpgsqlParameter { Value = slotName });
        await drop.ExecuteNonQueryAsync(ct);
    }
}
