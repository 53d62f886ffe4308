using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Npgsql;
using PgReplicateKafka.Metrics;
using PgReplicateKafka.Source;

namespace PgReplicateKafka.Pipeline;

/// <summary>
/// Looks at the slot's WAL retention every few seconds from the confirm loop: sets the slot metrics
/// and warns, at most once a minute while it lasts, before PostgreSQL invalidates the slot.
/// </summary>
internal sealed class SlotRetentionWatch(SessionContext context, ILogger logger)
{
    private static readonly TimeSpan CheckInterval = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan WarnInterval = TimeSpan.FromMinutes(1);

    private Stopwatch? _sinceCheck;
    private Stopwatch? _sinceWarning;

    public async Task CheckAsync()
    {
        if (_sinceCheck is not null && _sinceCheck.Elapsed < CheckInterval)
            return;
        _sinceCheck = Stopwatch.StartNew();

        var postgres = context.Config.Postgres;
        SlotStatus? status;
        // Best effort: the stream itself reports a lost server; a failed look must not end the session.
        try
        {
            await using var connection = new NpgsqlConnection(PostgresConnections.CatalogConnectionString(postgres));
            await connection.OpenAsync();
            status = await ReplicationSlots.StatusAsync(connection, postgres.SlotName, CancellationToken.None);
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException)
        {
            logger.LogDebug(e, "Could not read the WAL retention of replication slot {Slot}", postgres.SlotName);
            return;
        }

        if (status is null)
            return;
        context.Metrics.SlotRetention(status.WalStatus, status.SafeWalSize);
        if (SlotRetention.Risk(status.WalStatus, status.SafeWalSize, status.MaxSlotWalKeepSize) is not { } risk)
        {
            _sinceWarning = null;
            return;
        }

        if (_sinceWarning is not null && _sinceWarning.Elapsed < WarnInterval)
            return;
        _sinceWarning = Stopwatch.StartNew();
        logger.LogWarning("Replication slot {Slot} is at risk: {Risk}; let the replicator catch up (is Kafka slow or down?) or raise max_slot_wal_keep_size",
            postgres.SlotName, risk);
    }
}
