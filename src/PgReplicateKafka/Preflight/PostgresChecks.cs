using Npgsql;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Source;

namespace PgReplicateKafka.Preflight;

/// <summary>
/// Everything PostgreSQL must provide before streaming can start, checked one by one so that
/// <c>check</c> reports all problems at once and <c>run</c> fails fast with the same messages.
/// </summary>
public static class PostgresChecks
{
    private const CheckArea Area = CheckArea.PostgreSQL;

    /// <summary>pgoutput and publications exist since PostgreSQL 10.</summary>
    private const int MinimumServerVersion = 100000;
    private const int FailoverSlotServerVersion = 170000;

    /// <summary>Connects and runs every check; a failed connection is the only (failed) result.</summary>
    public static Task<IReadOnlyList<CheckResult>> RunAsync(PostgresConfig config, CancellationToken ct) =>
        RunAsync(config, (connection, token) => RunAsync(connection, config, token), ct);

    /// <summary>As above, then the <c>[[tables]]</c> rules and topics against the catalog, on the same connection.</summary>
    public static Task<IReadOnlyList<CheckResult>> RunAsync(ReplicatorConfig config, CancellationToken ct) =>
        RunAsync(config.Postgres, (connection, token) => RunWithRulesAsync(connection, config, token), ct);

    /// <summary>The PostgreSQL checks, then (when they passed) the table rule checks.</summary>
    public static async Task<IReadOnlyList<CheckResult>> RunWithRulesAsync(NpgsqlConnection connection, ReplicatorConfig config, CancellationToken ct)
    {
        var results = new List<CheckResult>(await RunAsync(connection, config.Postgres, ct));
        if (results.All(r => r.Outcome != CheckOutcome.Failed))
            results.AddRange(await TableRuleChecks.RunAsync(connection, config, ct));
        return results;
    }

    private static async Task<IReadOnlyList<CheckResult>> RunAsync(
        PostgresConfig config, Func<NpgsqlConnection, CancellationToken, Task<IReadOnlyList<CheckResult>>> checks, CancellationToken ct)
    {
        NpgsqlConnection connection;
        try
        {
            connection = await PostgresConnections.OpenCatalogAsync(config, ct);
        }
        catch (PostgresSetupException e)
        {
            return [CheckResult.Fail(Area, "connection", e.Message)];
        }

        await using (connection)
        {
            var results = new List<CheckResult> { Connected(config) };
            results.AddRange(await checks(connection, ct));
            return results;
        }
    }

    /// <summary>The checks after connecting, on an open connection.</summary>
    public static async Task<IReadOnlyList<CheckResult>> RunAsync(NpgsqlConnection connection, PostgresConfig config, CancellationToken ct)
    {
        var results = new List<CheckResult>();
        var server = await PostgresCatalog.ReadServerAsync(connection, config.SlotName, ct);
        results.Add(ServerVersion(server));
        if (config.FailoverSlot)
            results.Add(FailoverSlot(server));
        results.Add(WalLevel(server));
        results.Add(Role(server, config));
        results.Add(ReplicationSlots(server, config));
        results.Add(WalSenders(server));
        results.AddRange(await PublicationAsync(connection, config, ct));
        results.Add(await SlotAsync(connection, config, ct));
        return results;
    }

    internal static CheckResult Connected(PostgresConfig config) =>
        CheckResult.Pass(Area, "connection", $"connected to {PostgresConnections.Describe(config)}");

    private static CheckResult ServerVersion(ServerFacts server) => server.VersionNum >= MinimumServerVersion
        ? CheckResult.Pass(Area, "server version", $"PostgreSQL {server.Version}")
        : CheckResult.Fail(Area, "server version",
            $"PostgreSQL {server.Version} is too old: logical replication with pgoutput needs PostgreSQL 10 or later; upgrade the server");

    private static CheckResult FailoverSlot(ServerFacts server) => server.VersionNum >= FailoverSlotServerVersion
        ? CheckResult.Pass(Area, "failover slot", "the slot is created with failover (standbys with sync_replication_slots keep a copy)")
        : CheckResult.Fail(Area, "failover slot",
            $"[postgres] failover_slot = true needs PostgreSQL 17 or later, but the server is PostgreSQL {server.Version}: " +
            "set failover_slot = false (PGRK_POSTGRES_FAILOVER_SLOT) and let your HA tool keep the slot on standbys (e.g. Patroni permanent_slots), or upgrade");

    private static CheckResult WalLevel(ServerFacts server) => server.WalLevel == "logical"
        ? CheckResult.Pass(Area, "wal_level", "logical")
        : CheckResult.Fail(Area, "wal_level",
            $"wal_level is {server.WalLevel}, but logical replication needs logical: run ALTER SYSTEM SET wal_level = logical as a superuser and restart PostgreSQL");

    private static CheckResult Role(ServerFacts server, PostgresConfig config)
    {
        if (server.Superuser)
            return CheckResult.Pass(Area, "role", $"\"{config.Username}\" is a superuser (a role with only REPLICATION and SELECT is enough)");
        return server.Replication
            ? CheckResult.Pass(Area, "role", $"\"{config.Username}\" has REPLICATION")
            : CheckResult.Fail(Area, "role",
                $"role \"{config.Username}\" lacks the REPLICATION attribute: run ALTER ROLE {SqlNames.QuoteIdentifier(config.Username)} REPLICATION as a superuser");
    }

    private static CheckResult ReplicationSlots(ServerFacts server, PostgresConfig config)
    {
        if (server.SlotExists)
            return CheckResult.Pass(Area, "max_replication_slots", $"slot \"{config.SlotName}\" exists ({server.UsedSlots} of {server.MaxSlots} slots used)");
        return server.UsedSlots < server.MaxSlots
            ? CheckResult.Pass(Area, "max_replication_slots", $"{server.MaxSlots - server.UsedSlots} of {server.MaxSlots} free")
            : CheckResult.Fail(Area, "max_replication_slots",
                $"all {server.MaxSlots} replication slots are in use, so slot \"{config.SlotName}\" cannot be created: drop unused slots " +
                "(SELECT slot_name FROM pg_replication_slots WHERE NOT active) or raise max_replication_slots and restart PostgreSQL");
    }

    private static CheckResult WalSenders(ServerFacts server) => server.UsedWalSenders < server.MaxWalSenders
        ? CheckResult.Pass(Area, "max_wal_senders", $"{server.MaxWalSenders - server.UsedWalSenders} of {server.MaxWalSenders} free")
        : CheckResult.Fail(Area, "max_wal_senders",
            $"all {server.MaxWalSenders} WAL senders are in use (see pg_stat_replication): raise max_wal_senders and restart PostgreSQL, or stop an unused replication client")
            with
        { ServerBusy = true };

    private static async Task<IReadOnlyList<CheckResult>> PublicationAsync(NpgsqlConnection connection, PostgresConfig config, CancellationToken ct)
    {
        if (!await PostgresCatalog.PublicationExistsAsync(connection, config.Publication, ct))
        {
            return
            [
                config.CreatePublication
                    ? CheckResult.Pass(Area, "publication",
                        $"\"{config.Publication}\" does not exist yet; run creates it for {string.Join(", ", config.Tables)} ([postgres] create_publication = true)")
                    : CheckResult.Fail(Area, "publication",
                        $"publication \"{config.Publication}\" does not exist in database \"{config.Database}\": create it " +
                        $"(CREATE PUBLICATION {config.Publication} FOR TABLE ...) or set [postgres] create_publication = true with tables = [...]"),
            ];
        }

        var tables = await PostgresCatalog.PublishedTablesAsync(connection, config.Publication, ct);
        if (tables.Count == 0)
        {
            return
            [
                CheckResult.Fail(Area, "publication",
                    $"publication \"{config.Publication}\" publishes no tables, so nothing would stream: add tables " +
                    $"(ALTER PUBLICATION {config.Publication} ADD TABLE ...)"),
            ];
        }

        var results = new List<CheckResult>
        {
            CheckResult.Pass(Area, "publication", $"\"{config.Publication}\" publishes {string.Join(", ", tables.Select(t => t.Name))}"),
        };

        var unreadable = tables.Where(t => !t.Selectable).Select(t => t.Name).ToList();
        results.Add(unreadable.Count == 0
            ? CheckResult.Pass(Area, "table privileges", $"\"{config.Username}\" may SELECT every published table")
            : CheckResult.Fail(Area, "table privileges",
                $"role \"{config.Username}\" lacks SELECT on {string.Join(", ", unreadable)}: run GRANT SELECT ON " +
                $"{string.Join(", ", unreadable)} TO {SqlNames.QuoteIdentifier(config.Username)}"));

        results.AddRange(tables.Select(ReplicaIdentity));
        return results;
    }

    private static CheckResult ReplicaIdentity(PublishedTable table)
    {
        var name = $"replica identity {table.Name}";
        return table.Identity switch
        {
            'd' when table.HasPrimaryKey => CheckResult.Pass(Area, name, "DEFAULT (primary key)"),
            'd' => CheckResult.Warn(Area, name,
                "DEFAULT without a primary key: PostgreSQL rejects UPDATE and DELETE on a published table without a replica identity, " +
                $"and events have no key; add a primary key or run ALTER TABLE {table.Name} REPLICA IDENTITY FULL"),
            'n' => CheckResult.Warn(Area, name,
                "NOTHING: PostgreSQL rejects UPDATE and DELETE on this published table and events carry no old row; " +
                $"run ALTER TABLE {table.Name} REPLICA IDENTITY DEFAULT (with a primary key) or FULL"),
            'f' => CheckResult.Pass(Area, name, "FULL"),
            _ => CheckResult.Pass(Area, name, "USING INDEX"),
        };
    }

    private static async Task<CheckResult> SlotAsync(NpgsqlConnection connection, PostgresConfig config, CancellationToken ct)
    {
        const string name = "replication slot";
        if (await Source.ReplicationSlots.StatusAsync(connection, config.SlotName, ct) is not { } slot)
            return CheckResult.Pass(Area, name, $"\"{config.SlotName}\" does not exist yet; run creates it");

        var plugin = slot.Plugin;
        var database = slot.Database;
        if (plugin != "pgoutput")
        {
            return CheckResult.Fail(Area, name,
                $"replication slot \"{config.SlotName}\" exists with plugin {plugin}, not pgoutput: drop it " +
                $"(SELECT pg_drop_replication_slot('{config.SlotName}')) or set [postgres] slot_name to another name");
        }

        if (database != config.Database)
        {
            return CheckResult.Fail(Area, name,
                $"replication slot \"{config.SlotName}\" belongs to database \"{database}\", not \"{config.Database}\": set [postgres] slot_name to another name");
        }

        if (slot.ActivePid is { } pid)
        {
            return CheckResult.Fail(Area, name,
                $"replication slot \"{config.SlotName}\" is in use by another process (PID {pid}): stop the other " +
                "replicator first (see pg_stat_replication), or give this one its own [postgres] slot_name") with
            { SlotBusy = true };
        }

        return CheckResult.Pass(Area, name, $"\"{config.SlotName}\" exists (pgoutput) and is free");
    }
}
