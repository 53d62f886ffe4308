using Npgsql;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Source.Snapshot;

namespace PgReplicateKafka.Operations;

/// <summary>The <c>--table schema.table</c> argument of <c>verify</c> and <c>snapshot</c>.</summary>
public static class TableArgument
{
    /// <summary>"schema.table", or "table" in schema public, as <see cref="SnapshotTable.QualifiedName"/> spells it.</summary>
    public static string Qualify(string table) => table.Contains('.') ? table : "public." + table;

    /// <summary>The table among the publication's; a table it does not publish is a usage error (exit code 2).</summary>
    public static async Task<SnapshotTable> FindAsync(NpgsqlConnection connection, PostgresConfig config, string table, CancellationToken ct)
    {
        var name = Qualify(table);
        var tables = await SnapshotTableCatalog.LoadAsync(connection, config.Publication, ct);
        foreach (var candidate in tables)
        {
            if (candidate.QualifiedName == name)
                return candidate;
        }

        var published = tables.Count == 0
            ? "it publishes no table"
            : $"it publishes {string.Join(", ", tables.Take(10).Select(t => t.QualifiedName))}{(tables.Count > 10 ? $" and {tables.Count - 10} more" : "")}";
        throw new ConfigException(
            $"table {name} is not published by publication \"{config.Publication}\" ({published}): check --table (schema.table), " +
            $"or add it with ALTER PUBLICATION {config.Publication} ADD TABLE {name}");
    }
}
