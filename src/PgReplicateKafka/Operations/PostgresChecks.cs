using Npgsql;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Source;

namespace PgReplicateKafka.Operations;

/// <summary>
/// Everything PostgreSQL must provide before streaming can start, checked one by one so that
/// <c>check</c> reports all problems at once and <c>run</c> fails fast with the same messages.
/// </summary>
public static class PostgresChecks
{
    private const CheckArea Area = CheckArea.PostgreSQL;

    /// <summary>pgoutput and publications exist since PostgreSQL 10.</summary>
    private const int MinimumServerVersion = 100000;

    /// <summary>Connects and runs every check; a failed connection is the only (failed) result.</summary>
    public static async Task<IReadOnlyList<CheckResult>> RunAsync(PostgresConfig config, CancellationToken ct)
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
            results.AddRange(await RunAsync(connection, config, ct));
            return results;
        }
    }

    /// <summary>The checks after connecting, on an open connection.</summary>
    public static async Task<IReadOnlyList<CheckResult>> RunAsync(NpgsqlConnection connection, PostgresConfig config, CancellationToken ct)
    {
        var results = new List<CheckResult>();
        var server = await ReadServerAsync(connection, config, ct);
        results.Add(ServerVersion(server));
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

    private sealed record ServerFacts(
        int VersionNum, string Version, string WalLevel, bool Replication, bool Superuser,
        int MaxSlots, long UsedSlots, bool SlotExists, int MaxWalSenders, long UsedWalSenders);

    private static async Task<ServerFacts> ReadServerAsync(NpgsqlConnection connection, PostgresConfig config, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand("""
            SELECT current_setting('server_version_num')::int, current_setting('server_version'), current_setting('wal_level'),
                   r.rolreplication, r.rolsuper,
                   current_setting('max_replication_slots')::int, (SELECT count(*) FROM pg_replication_slots),
                   EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1),
                   current_setting('max_wal_senders')::int, (SELECT count(*) FROM pg_stat_replication)
            FROM pg_roles r WHERE r.rolname = current_user
            """, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = config.SlotName });
        await using var reader = await command.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        return new ServerFacts(
            reader.GetInt32(0), reader.GetString(1), reader.GetString(2), reader.GetBoolean(3), reader.GetBoolean(4),
            reader.GetInt32(5), reader.GetInt64(6), reader.GetBoolean(7), reader.GetInt32(8), reader.GetInt64(9));
    }

    private static CheckResult ServerVersion(ServerFacts server) => server.VersionNum >= MinimumServerVersion
        ? CheckResult.Pass(Area, "server version", $"PostgreSQL {server.Version}")
        : CheckResult.Fail(Area, "server version",
            $"PostgreSQL {server.Version} is too old: logical replication with pgoutput needs PostgreSQL 10 or later; upgrade the server");

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
                $"role \"{config.Username}\" lacks the REPLICATION attribute: run ALTER ROLE {SourceSetup.QuoteIdentifier(config.Username)} REPLICATION as a superuser");
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
            $"all {server.MaxWalSenders} WAL senders are in use (see pg_stat_replication): raise max_wal_senders and restart PostgreSQL, or stop an unused replication client");

    private static async Task<IReadOnlyList<CheckResult>> PublicationAsync(NpgsqlConnection connection, PostgresConfig config, CancellationToken ct)
    {
        await using (var exists = new NpgsqlCommand("SELECT count(*) FROM pg_publication WHERE pubname = $1", connection))
        {
            exists.Parameters.Add(new NpgsqlParameter { Value = config.Publication });
            if ((long)(await exists.ExecuteScalarAsync(ct))! == 0)
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
        }

        var tables = await PublishedTablesAsync(connection, config, ct);
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
                $"{string.Join(", ", unreadable)} TO {SourceSetup.QuoteIdentifier(config.Username)}"));

        results.AddRange(tables.Select(ReplicaIdentity));
        return results;
    }

    private sealed record PublishedTable(string Name, char Identity, bool HasPrimaryKey, bool Selectable);

    private static async Task<List<PublishedTable>> PublishedTablesAsync(NpgsqlConnection connection, PostgresConfig config, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand("""
            SELECT p.schemaname || '.' || p.tablename, c.relreplident::text,
                   EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary),
                   has_table_privilege(c.oid, 'SELECT')
            FROM pg_publication_tables p
            JOIN pg_namespace n ON n.nspname = p.schemaname
            JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = p.tablename
            WHERE p.pubname = $1
            ORDER BY 1
            """, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = config.Publication });
        var tables = new List<PublishedTable>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
            tables.Add(new PublishedTable(reader.GetString(0), reader.GetString(1)[0], reader.GetBoolean(2), reader.GetBoolean(3)));
        return tables;
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
        await using var command = new NpgsqlCommand(
            "SELECT plugin, database, active_pid FROM pg_replication_slots WHERE slot_name = $1", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = config.SlotName });
        await using var reader = await command.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct))
            return CheckResult.Pass(Area, name, $"\"{config.SlotName}\" does not exist yet; run creates it");

        var plugin = reader.IsDBNull(0) ? "(physical)" : reader.GetString(0);
        var database = reader.IsDBNull(1) ? "" : reader.GetString(1);
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

        if (!reader.IsDBNull(2))
        {
            return CheckResult.Fail(Area, name,
                $"replication slot \"{config.SlotName}\" is in use by another process (PID {reader.GetInt32(2)}): stop the other " +
                "replicator first (see pg_stat_replication), or give this one its own [postgres] slot_name") with
            { SlotBusy = true };
        }

        return CheckResult.Pass(Area, name, $"\"{config.SlotName}\" exists (pgoutput) and is free");
    }
}
