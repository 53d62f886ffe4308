using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Events.Values;

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

    // Replaced whole by the receive loop and by snapshot readers, each on its own connection.
    private volatile TypeCatalog _types = types;

    public TypeCatalog Types => _types;

    /// <summary>
    /// Enum labels by type OID. Written by the receive loop before it hands over a table that uses a new type, read by
    /// the pump when it first serializes that table: hence concurrent.
    /// </summary>
    public ConcurrentDictionary<uint, IReadOnlyList<string>> EnumLabels { get; } = new();

    /// <summary>How long a type a change or a table uses is looked for before its values are taken as text.</summary>
    internal static readonly TimeSpan MissingTypeWait = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The type catalog, read again on <paramref name="connection"/> while it lacks one of <paramref name="oids"/>: a type
    /// created after it was loaded. A snapshot can read a table before any change of it streamed, and the stream can
    /// carry a change before the transaction that created its types is visible to a catalog query (its commit record
    /// is written, and decoded, before it becomes visible: for a moment, or while a synchronous standby is awaited).
    /// So a type still missing is looked for again, for up to <see cref="MissingTypeWait"/>, before its values are
    /// written as text. The catalog connection belongs to the receive loop, hence the caller's.
    /// </summary>
    public async Task<TypeCatalog> TypesIncludingAsync(NpgsqlConnection connection, IReadOnlyCollection<uint> oids, ILogger logger, CancellationToken ct)
    {
        var delay = TimeSpan.FromMilliseconds(10);
        var waited = Stopwatch.StartNew();
        while (!oids.All(Types.Contains))
        {
            await ReloadTypesAsync(connection, ct);
            if (oids.All(Types.Contains))
                break;
            if (waited.Elapsed >= MissingTypeWait)
            {
                logger.LogWarning("Type(s) {Oids} are not in pg_type {Seconds} s after a change or table used them (dropped since?): their values are written as text",
                    string.Join(", ", oids.Where(oid => !Types.Contains(oid))), MissingTypeWait.TotalSeconds);
                break;
            }

            await Task.Delay(delay, ct);
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.TicksPerSecond));
        }

        return Types;
    }

    private async Task ReloadTypesAsync(NpgsqlConnection connection, CancellationToken ct)
    {
        // Labels first: a reader that finds a type in the catalog then finds its labels too.
        await PostgresCatalog.LoadEnumLabelsAsync(connection, EnumLabels, ct);
        _types = await PostgresCatalog.LoadTypesAsync(connection, ct);
    }

    public ValueTask DisposeAsync() => Catalog.DisposeAsync();
}

/// <summary>
/// Prepares PostgreSQL for streaming, once the preflight checks passed: the publication exists (or
/// is created when asked), the slot exists (created when missing), and the type catalog is loaded.
/// </summary>
public static class SourceSetup
{
    /// <param name="connection">An open catalog connection; the returned state owns it.</param>
    /// <param name="createSlot">
    /// Create the slot when it is missing: true on first start only. A slot that disappears while we
    /// run was dropped by someone, and silently recreating it would skip every change in between.
    /// </param>
    /// <param name="beforeSlotCreated">Runs just before the slot is created, if it is (the snapshot records the slot's new incarnation).</param>
    public static async Task<SourceState> PrepareAsync(
        NpgsqlConnection connection, PostgresConfig config, bool createSlot, ILogger logger, CancellationToken ct, Func<CancellationToken, Task>? beforeSlotCreated = null)
    {
        await EnsurePublicationAsync(connection, config, logger, ct);
        var (startLsn, slotCreated) = await EnsureSlotAsync(connection, config, createSlot, beforeSlotCreated, logger, ct);
        var types = await PostgresCatalog.LoadTypesAsync(connection, ct);
        var state = new SourceState(connection, startLsn, slotCreated, types);
        await PostgresCatalog.LoadEnumLabelsAsync(connection, state.EnumLabels, ct);
        return state;
    }

    /// <summary>Creates the publication when it is missing (the checks made sure create_publication allows it).</summary>
    private static async Task EnsurePublicationAsync(NpgsqlConnection connection, PostgresConfig config, ILogger logger, CancellationToken ct)
    {
        if (await PostgresCatalog.PublicationExistsAsync(connection, config.Publication, ct))
            return;
        try
        {
            await PostgresCatalog.CreatePublicationAsync(connection, config.Publication, config.Tables, ct);
        }
        catch (PostgresException e)
        {
            throw new PostgresSetupException(
                $"cannot create publication \"{config.Publication}\" for [postgres] tables: {e.MessageText} (SQLSTATE {e.SqlState})", e);
        }

        logger.LogInformation("Created publication {Publication} for tables {Tables}", config.Publication, string.Join(", ", config.Tables));
    }

    private static async Task<(NpgsqlLogSequenceNumber Lsn, bool Created)> EnsureSlotAsync(
        NpgsqlConnection connection, PostgresConfig config, bool create, Func<CancellationToken, Task>? beforeCreate, ILogger logger, CancellationToken ct)
    {
        // Plugin, database and activity were checked already.
        if (await ReplicationSlots.ConfirmedFlushAsync(connection, config.SlotName, ct) is { } confirmed)
        {
            logger.LogInformation("Resuming replication slot {Slot} from {Lsn}", config.SlotName, confirmed);
            return (confirmed, false);
        }

        if (!create)
        {
            throw new PostgresSetupException(
                $"replication slot \"{config.SlotName}\" was dropped while the replicator was running, so changes made since may be lost: " +
                "check who dropped it; restarting pg-replicate-kafka creates a new slot and streams from now on");
        }

        if (beforeCreate is not null)
            await beforeCreate(ct);
        try
        {
            var lsn = await ReplicationSlots.CreateAsync(connection, config.SlotName, config.FailoverSlot, ct);
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
