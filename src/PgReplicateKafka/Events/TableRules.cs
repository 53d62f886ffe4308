using PgReplicateKafka.Configuration;

namespace PgReplicateKafka.Events;

/// <summary>A column as the rule checks see it: from a RELATION message or from the catalog.</summary>
public readonly record struct RuleColumn(string Name, bool IsReplicaIdentity, bool IsKey);

/// <summary>
/// Applies the <c>[[tables]]</c> rules' column parts to tables: <see cref="Project"/> makes, once per
/// RELATION, the <see cref="TableInfo"/> the serializers write (kept columns, masks, key), so nothing is
/// decided per row. <see cref="Problem"/> is the check shared by the start-up checks and projection.
/// </summary>
public sealed class TableRules
{
    private readonly TableRulesConfig _config;
    private readonly Dictionary<int, ColumnMask> _masks = [];

    public TableRules(TableRulesConfig config, MaskingConfig masking)
    {
        _config = config;
        foreach (var rule in config.Rules.Where(r => r.MaskColumns.Count > 0))
        {
            _masks[rule.Entry] = rule.MaskWith is { } with
                ? ColumnMask.Replace(with)
                : ColumnMask.Hash(masking.Salt ?? throw new ConfigException($"{rule.Describe()} hashes mask_columns, which needs [masking] salt (PGRK_MASKING_SALT)"));
        }
    }

    public TableRule? RuleFor(string schema, string table) => _config.RuleFor(schema, table);

    /// <summary>The table as its rule shapes events; the same instance when no rule changes its columns or key.</summary>
    /// <exception cref="ConfigException">The rule names a column the table does not have (say, after ALTER TABLE).</exception>
    public TableInfo Project(TableInfo table)
    {
        var rule = RuleFor(table.Schema, table.Name);
        if (rule is null || (rule.IncludeColumns is null && rule.ExcludeColumns.Count == 0 && rule.MaskColumns.Count == 0 && rule.KeyColumns is null))
            return table;

        var described = new RuleColumn[table.Columns.Count];
        for (var i = 0; i < described.Length; i++)
            described[i] = new RuleColumn(table.Columns[i].Name, table.Columns[i].IsReplicaIdentity, Array.IndexOf(table.KeyColumns, i) >= 0);
        if (Problem(rule, table.QualifiedName, described) is { } problem)
            throw new ConfigException(problem + " (seen in a RELATION message while streaming)");

        var columns = new List<ColumnInfo>();
        var rowIndexes = new List<int>();
        var key = new List<int>();
        var mask = _masks.GetValueOrDefault(rule.Entry);
        for (var i = 0; i < table.Columns.Count; i++)
        {
            var column = table.Columns[i];
            if (!rule.Keeps(column.Name))
                continue;
            if (rule.KeyColumns is { } keyColumns ? keyColumns.Contains(column.Name) : described[i].IsKey)
                key.Add(columns.Count);
            columns.Add(column.Masked(rule.MaskColumns.Contains(column.Name) ? mask : null));
            rowIndexes.Add(i);
        }

        return table.Project(columns, [.. rowIndexes], [.. key]);
    }

    /// <summary>What is wrong with applying <paramref name="rule"/> to the table, or null when it fits.</summary>
    public static string? Problem(TableRule rule, string table, IReadOnlyList<RuleColumn> columns)
    {
        foreach (var (key, name) in rule.NamedColumns())
        {
            if (!columns.Any(c => c.Name == name))
            {
                return $"{rule.Describe()} names column \"{name}\" in {key}, but table {table} has no such published column " +
                    $"(it has {string.Join(", ", columns.Select(c => c.Name))}): fix the name, or make the match exclude this table";
            }
        }

        foreach (var name in rule.KeyColumns ?? [])
        {
            if (!columns.First(c => c.Name == name).IsReplicaIdentity)
            {
                return $"{rule.Describe()} makes \"{name}\" a key column of table {table}, but it is not part of the table's replica identity, " +
                    $"so DELETE events would not carry it: run ALTER TABLE {table} REPLICA IDENTITY FULL, or choose key_columns from the replica identity";
            }
        }

        if (rule.KeyColumns is null)
        {
            foreach (var column in columns.Where(c => c.IsKey))
            {
                if (!rule.Keeps(column.Name))
                {
                    return $"{rule.Describe()} leaves out \"{column.Name}\" of table {table}, which the message key is made of: keep the column, " +
                        "or give the rule key_columns = [...] from the columns it keeps";
                }

                if (rule.MaskWith is not null && rule.MaskColumns.Contains(column.Name))
                {
                    return $"{rule.Describe()} replaces key column \"{column.Name}\" of table {table} with a fixed value, so every row would share one key: " +
                        "hash it (leave out mask_with), or give the rule other key_columns";
                }
            }
        }

        return null;
    }
}
