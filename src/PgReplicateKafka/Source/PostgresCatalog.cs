using Npgsql;
using PgReplicateKafka.Events;
using PgReplicateKafka.Events.Values;

namespace PgReplicateKafka.Source;

/// <summary>The server facts the preflight checks judge, read in one round trip.</summary>
public sealed record ServerFacts(
    int VersionNum, string Version, string WalLevel, bool Replication, bool Superuser,
    int MaxSlots, long UsedSlots, bool SlotExists, int MaxWalSenders, long UsedWalSenders);

/// <summary>A table of the publication, with what the checks need to know of it.</summary>
public sealed record PublishedTable(string Name, char Identity, bool HasPrimaryKey, bool Selectable);

/// <summary>A table with its (published) columns, as the <c>[[tables]]</c> rule checks see them.</summary>
public sealed record CatalogTable(string Schema, string Name, IReadOnlyList<RuleColumn> Columns)
{
    public string QualifiedName => Schema + "." + Name;
}

/// <summary>Every catalog query of the source, except the slot's (see <see cref="ReplicationSlots"/>).</summary>
public static class PostgresCatalog
{
    // One row per type; the array test (element.typarray = oid) excludes int2vector/oidvector,
    // which have typcategory 'A' but print space-separated, not as array literals.
    internal const string TypesSql =
        "SELECT t.oid, t.typname, t.typtype, t.typbasetype, t.typelem, t.typcategory, t.typdelim, t.typarray, n.nspname "
        + "FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace";

    /// <summary>Reads every type in the connected database: domains, enums, arrays and extension types included.</summary>
    public static async Task<TypeCatalog> LoadTypesAsync(NpgsqlConnection connection, CancellationToken ct)
    {
        var rows = new Dictionary<uint, TypeCatalog.TypeRow>();
        await using (var command = new NpgsqlCommand(TypesSql, connection))
        await using (var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                var row = new TypeCatalog.TypeRow(
                    reader.GetFieldValue<uint>(0),
                    reader.GetString(1),
                    reader.GetChar(2),
                    reader.GetFieldValue<uint>(3),
                    reader.GetFieldValue<uint>(4),
                    reader.GetChar(5),
                    reader.GetChar(6),
                    reader.GetFieldValue<uint>(7),
                    reader.GetString(8));
                rows[row.Oid] = row;
            }
        }

        return TypeCatalog.FromRows(rows);
    }

    /// <summary>
    /// Copies the labels of every enum type, in their sort order, into <paramref name="labels"/> (by type OID): the
    /// Debezium envelope lists them in each enum column's schema.
    /// </summary>
    public static async Task LoadEnumLabelsAsync(NpgsqlConnection connection, IDictionary<uint, IReadOnlyList<string>> labels, CancellationToken ct)
    {
        var byType = new Dictionary<uint, List<string>>();
        await using (var command = new NpgsqlCommand("SELECT enumtypid, enumlabel::text FROM pg_catalog.pg_enum ORDER BY enumtypid, enumsortorder", connection))
        await using (var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                var oid = reader.GetFieldValue<uint>(0);
                if (!byType.TryGetValue(oid, out var list))
                    byType[oid] = list = [];
                list.Add(reader.GetString(1));
            }
        }

        foreach (var (oid, list) in byType)
            labels[oid] = list;
    }

    /// <summary>The primary key's column names of a table (empty when it has none).</summary>
    public static async Task<HashSet<string>> PrimaryKeyAsync(NpgsqlConnection connection, uint relationId, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(
            "SELECT a.attname::text FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) " +
            "WHERE i.indrelid = $1::oid AND i.indisprimary", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = (long)relationId });
        var names = new HashSet<string>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
            names.Add(reader.GetString(0));
        return names;
    }

    public static async Task<ServerFacts> ReadServerAsync(NpgsqlConnection connection, string slotName, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand("""
            SELECT current_setting('server_version_num')::int, current_setting('server_version'), current_setting('wal_level'),
                   r.rolreplication, r.rolsuper,
                   current_setting('max_replication_slots')::int, (SELECT count(*) FROM pg_replication_slots),
                   EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1),
                   current_setting('max_wal_senders')::int, (SELECT count(*) FROM pg_stat_replication)
            FROM pg_roles r WHERE r.rolname = current_user
            """, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = slotName });
        await using var reader = await command.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        return new ServerFacts(
            reader.GetInt32(0), reader.GetString(1), reader.GetString(2), reader.GetBoolean(3), reader.GetBoolean(4),
            reader.GetInt32(5), reader.GetInt64(6), reader.GetBoolean(7), reader.GetInt32(8), reader.GetInt64(9));
    }

    public static async Task<bool> PublicationExistsAsync(NpgsqlConnection connection, string publication, CancellationToken ct)
    {
        await using var exists = new NpgsqlCommand("SELECT count(*) FROM pg_publication WHERE pubname = $1", connection);
        exists.Parameters.Add(new NpgsqlParameter { Value = publication });
        return (long)(await exists.ExecuteScalarAsync(ct))! > 0;
    }

    /// <summary>Creates the publication for <paramref name="tables"/> ("schema.table" or "table").</summary>
    public static async Task CreatePublicationAsync(NpgsqlConnection connection, string publication, IEnumerable<string> tables, CancellationToken ct)
    {
        await using var create = new NpgsqlCommand(
            $"CREATE PUBLICATION {SqlNames.QuoteIdentifier(publication)} FOR TABLE {string.Join(", ", tables.Select(SqlNames.QuoteTable))}", connection);
        await create.ExecuteNonQueryAsync(ct);
    }

    public static async Task<List<PublishedTable>> PublishedTablesAsync(NpgsqlConnection connection, string publication, CancellationToken ct)
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
        command.Parameters.Add(new NpgsqlParameter { Value = publication });
        var tables = new List<PublishedTable>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
            tables.Add(new PublishedTable(reader.GetString(0), reader.GetString(1)[0], reader.GetBoolean(2), reader.GetBoolean(3)));
        return tables;
    }

    /// <summary>
    /// The publication's tables with the columns it publishes (PostgreSQL 15 column lists honoured), or, before
    /// the publication exists, the tables <paramref name="toCreate"/> names; in pg_attribute order.
    /// </summary>
    public static async Task<List<CatalogTable>> TableColumnsAsync(NpgsqlConnection connection, string publication, IReadOnlyList<string>? toCreate, CancellationToken ct)
    {
        // Which relations, with the published column names (null: all).
        var relations = new List<(uint Oid, string[]? Published)>();
        var sql = toCreate is not null
            ? "SELECT to_regclass(t)::oid, NULL::text[] FROM unnest($1::text[]) t WHERE to_regclass(t) IS NOT NULL"
            : connection.PostgreSqlVersion.Major >= 15
                ? "SELECT c.oid, p.attnames::text[] FROM pg_publication_tables p JOIN pg_namespace n ON n.nspname = p.schemaname " +
                  "JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = p.tablename WHERE p.pubname = $1"
                : "SELECT c.oid, NULL::text[] FROM pg_publication_tables p JOIN pg_namespace n ON n.nspname = p.schemaname " +
                  "JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = p.tablename WHERE p.pubname = $1";
        await using (var command = new NpgsqlCommand(sql, connection))
        {
            command.Parameters.Add(toCreate is not null
                ? new NpgsqlParameter { Value = toCreate.Select(SqlNames.QuoteTable).ToArray() }
                : new NpgsqlParameter { Value = publication });
            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
                relations.Add((reader.GetFieldValue<uint>(0), reader.IsDBNull(1) ? null : reader.GetFieldValue<string[]>(1)));
        }

        // The message key as ReplicationStream derives it: with REPLICA IDENTITY FULL the primary key (all columns without one), else the identity.
        await using var columns = new NpgsqlCommand("""
            SELECT c.oid, n.nspname::text, c.relname::text, a.attname::text,
                   CASE c.relreplident WHEN 'f' THEN true WHEN 'n' THEN false
                       ELSE EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND a.attnum = ANY(i.indkey)
                                    AND CASE c.relreplident WHEN 'd' THEN i.indisprimary ELSE i.indisreplident END) END,
                   CASE WHEN c.relreplident = 'f' AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) THEN true
                       WHEN c.relreplident = 'f' THEN EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary AND a.attnum = ANY(i.indkey))
                       WHEN c.relreplident = 'n' THEN false
                       ELSE EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND a.attnum = ANY(i.indkey)
                                    AND CASE c.relreplident WHEN 'd' THEN i.indisprimary ELSE i.indisreplident END) END
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
            WHERE c.oid::bigint = ANY($1)
            ORDER BY n.nspname, c.relname, a.attnum
            """, connection);
        columns.Parameters.Add(new NpgsqlParameter { Value = relations.Select(r => (long)r.Oid).ToArray() });
        var tables = new List<CatalogTable>();
        await using var rows = await columns.ExecuteReaderAsync(ct);
        uint current = 0;
        List<RuleColumn>? list = null;
        while (await rows.ReadAsync(ct))
        {
            var oid = rows.GetFieldValue<uint>(0);
            if (oid != current || list is null)
            {
                current = oid;
                list = [];
                tables.Add(new CatalogTable(rows.GetString(1), rows.GetString(2), list));
            }

            var name = rows.GetString(3);
            var published = relations.First(r => r.Oid == oid).Published;
            if (published is null || published.Contains(name))
                list.Add(new RuleColumn(name, rows.GetBoolean(4), rows.GetBoolean(5)));
        }

        return tables;
    }
}
