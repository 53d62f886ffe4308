using Npgsql;

namespace PgReplicateKafka.Source.Snapshot;

/// <summary>Reads what a snapshot needs to know about the publication's tables from the system catalogs.</summary>
public static class SnapshotTableCatalog
{
    /// <summary>pgoutput's <c>messages</c> option, which carries the watermarks, exists from PostgreSQL 14.</summary>
    public const int MinimumServerVersion = 140000;

    // Column lists and row filters (PostgreSQL 15) are read from pg_publication_tables; before 15 every column is published unfiltered.
    private const string TablesSql15 = """
        SELECT c.oid, n.nspname::text, c.relname::text, c.relkind = 'p', c.relreplident, c.reltuples::float8, pt.rowfilter, pt.attnames::text[]
        FROM pg_publication_tables pt
        JOIN pg_namespace n ON n.nspname = pt.schemaname
        JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = pt.tablename
        WHERE pt.pubname = $1
        ORDER BY 2, 3
        """;

    private const string TablesSql14 = """
        SELECT c.oid, n.nspname::text, c.relname::text, c.relkind = 'p', c.relreplident, c.reltuples::float8, NULL::text, NULL::text[]
        FROM pg_publication_tables pt
        JOIN pg_namespace n ON n.nspname = pt.schemaname
        JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = pt.tablename
        WHERE pt.pubname = $1
        ORDER BY 2, 3
        """;

    // Generated columns are never published; attnum order is pgoutput's column order.
    private const string ColumnsSql = """
        SELECT a.attrelid, a.attname::text, a.atttypid, format_type(a.atttypid, a.atttypmod), a.attnotnull, a.atttypmod
        FROM pg_attribute a
        WHERE a.attrelid = ANY($1) AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
        ORDER BY a.attrelid, a.attnum
        """;

    // Only plain unique indexes can page: no expressions, no predicate. Preferred: the primary key,
    // then the replica identity index, then the narrowest.
    private const string IndexesSql = """
        SELECT i.indrelid, ic.relname::text, i.indisprimary, i.indisreplident,
               ARRAY(SELECT a.attname::text FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord)
                     JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.ord),
               i.indexprs IS NULL AND i.indpred IS NULL AND i.indisvalid
        FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
        WHERE i.indrelid = ANY($1) AND i.indisunique
        ORDER BY i.indrelid, NOT i.indisprimary, NOT i.indisreplident, i.indnatts, ic.relname
        """;

    /// <summary>
    /// The tables of <paramref name="publication"/>, ordered by schema and name. Use a connection from
    /// <see cref="SnapshotConnection.OpenAsync"/>: type names and row filters are printed under its
    /// search_path, where the chunk queries run.
    /// </summary>
    public static async Task<IReadOnlyList<SnapshotTable>> LoadAsync(NpgsqlConnection connection, string publication, CancellationToken ct)
    {
        if (connection.PostgreSqlVersion.Major < MinimumServerVersion / 10000)
        {
            throw new PostgresSetupException(
                $"snapshots need PostgreSQL 14 or later (pgoutput's messages option carries their watermarks); the server is {connection.PostgreSqlVersion}");
        }

        var tables = new List<TableRow>();
        await using (var command = new NpgsqlCommand(connection.PostgreSqlVersion.Major >= 15 ? TablesSql15 : TablesSql14, connection))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = publication });
            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                tables.Add(new TableRow(
                    reader.GetFieldValue<uint>(0), reader.GetString(1), reader.GetString(2), reader.GetBoolean(3), reader.GetChar(4),
                    (long)reader.GetDouble(5), reader.IsDBNull(6) ? null : reader.GetString(6), reader.IsDBNull(7) ? null : reader.GetFieldValue<string[]>(7)));
            }
        }

        var ids = new uint[tables.Count];
        for (var i = 0; i < ids.Length; i++)
            ids[i] = tables[i].Oid;
        var columns = await ReadColumnsAsync(connection, ids, ct);
        var indexes = await ReadIndexesAsync(connection, ids, ct);

        var result = new List<SnapshotTable>(tables.Count);
        foreach (var table in tables)
        {
            var all = columns.GetValueOrDefault(table.Oid) ?? [];
            var published = table.PublishedNames is null ? all : all.FindAll(c => Array.IndexOf(table.PublishedNames, c.Name) >= 0);
            result.Add(Build(table, published, indexes.GetValueOrDefault(table.Oid) ?? []));
        }

        return result;
    }

    private static SnapshotTable Build(TableRow table, List<ColumnRow> columns, List<IndexRow> indexes)
    {
        var primary = indexes.Find(ix => ix.IsPrimary);
        var identityIndex = indexes.Find(ix => ix.IsReplicaIdentity);

        // pgoutput flags the replica identity columns; the stream's message key is the primary key
        // under REPLICA IDENTITY FULL and the flagged columns otherwise.
        var identity = table.ReplicaIdentity switch
        {
            'f' => null, // every column
            'i' => identityIndex?.Columns ?? [],
            'd' => primary?.Columns ?? [],
            _ => [],
        };
        var full = table.ReplicaIdentity == 'f';
        var snapshotColumns = new SnapshotColumn[columns.Count];
        for (var i = 0; i < columns.Count; i++)
        {
            var column = columns[i];
            snapshotColumns[i] = new SnapshotColumn(column.Name, column.TypeOid, column.SqlType, identity is null || Array.IndexOf(identity, column.Name) >= 0, column.TypeModifier);
        }

        var messageKey = full && primary is not null
            ? Positions(columns, primary.Columns) ?? []
            : FlaggedPositions(snapshotColumns);

        int[] pagingKey = [];
        string? pagingIndex = null;
        foreach (var index in indexes)
        {
            if (!index.Usable || Positions(columns, index.Columns) is not { } positions || !AllNotNull(columns, positions))
                continue;
            pagingKey = positions;
            pagingIndex = index.Name;
            break;
        }

        return new SnapshotTable(table.Oid, table.Schema, table.Name, table.Partitioned, snapshotColumns, pagingKey, pagingIndex, messageKey, full, table.RowFilter,
            table.EstimatedRows);
    }

    /// <summary>The positions of <paramref name="names"/> among the published columns, or null when one is not published.</summary>
    private static int[]? Positions(List<ColumnRow> columns, string[] names)
    {
        var positions = new int[names.Length];
        for (var i = 0; i < names.Length; i++)
        {
            positions[i] = columns.FindIndex(c => c.Name == names[i]);
            if (positions[i] < 0)
                return null;
        }

        return positions;
    }

    private static int[] FlaggedPositions(SnapshotColumn[] columns)
    {
        var positions = new List<int>();
        for (var i = 0; i < columns.Length; i++)
        {
            if (columns[i].IsReplicaIdentity)
                positions.Add(i);
        }

        return [.. positions];
    }

    private static bool AllNotNull(List<ColumnRow> columns, int[] positions)
    {
        foreach (var position in positions)
        {
            if (!columns[position].NotNull)
                return false;
        }

        return true;
    }

    private static async Task<Dictionary<uint, List<ColumnRow>>> ReadColumnsAsync(NpgsqlConnection connection, uint[] ids, CancellationToken ct)
    {
        var columns = new Dictionary<uint, List<ColumnRow>>();
        await using var command = new NpgsqlCommand(ColumnsSql, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = ids, DataTypeName = "oid[]" });
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            var table = reader.GetFieldValue<uint>(0);
            if (!columns.TryGetValue(table, out var list))
                columns[table] = list = [];
            list.Add(new ColumnRow(reader.GetString(1), reader.GetFieldValue<uint>(2), reader.GetString(3), reader.GetBoolean(4), reader.GetInt32(5)));
        }

        return columns;
    }

    private static async Task<Dictionary<uint, List<IndexRow>>> ReadIndexesAsync(NpgsqlConnection connection, uint[] ids, CancellationToken ct)
    {
        var indexes = new Dictionary<uint, List<IndexRow>>();
        await using var command = new NpgsqlCommand(IndexesSql, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = ids, DataTypeName = "oid[]" });
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            var table = reader.GetFieldValue<uint>(0);
            if (!indexes.TryGetValue(table, out var list))
                indexes[table] = list = [];
            list.Add(new IndexRow(reader.GetString(1), reader.GetBoolean(2), reader.GetBoolean(3), reader.GetFieldValue<string[]>(4), reader.GetBoolean(5)));
        }

        return indexes;
    }

    private sealed record TableRow(
        uint Oid, string Schema, string Name, bool Partitioned, char ReplicaIdentity, long EstimatedRows, string? RowFilter, string[]? PublishedNames);

    private sealed record ColumnRow(string Name, uint TypeOid, string SqlType, bool NotNull, int TypeModifier);

    private sealed record IndexRow(string Name, bool IsPrimary, bool IsReplicaIdentity, string[] Columns, bool Usable);
}
