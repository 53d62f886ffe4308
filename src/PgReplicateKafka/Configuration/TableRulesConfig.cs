namespace PgReplicateKafka.Configuration;

/// <summary>
/// One <c>[[tables]]</c> entry: the tables it matches and what it changes for them. Only what it names
/// changes; the first rule (in file order) whose <see cref="Match"/> fits a table is the one that applies.
/// </summary>
public sealed class TableRule
{
    /// <summary>1-based position among the rules, as in <c>PGRK_TABLES_&lt;n&gt;_*</c> and messages.</summary>
    public required int Entry { get; init; }

    public required TablePattern Match { get; init; }

    /// <summary>A topic name, or a template with {prefix}, {schema} and {table}; null keeps the default.</summary>
    public string? Topic { get; init; }

    /// <summary>Only these columns appear in events; null means all (unless excluded).</summary>
    public IReadOnlyList<string>? IncludeColumns { get; init; }

    public IReadOnlyList<string> ExcludeColumns { get; init; } = [];

    public IReadOnlyList<string> MaskColumns { get; init; } = [];

    /// <summary>Fixed replacement for masked values; null means the salted SHA-256 hex.</summary>
    public string? MaskWith { get; init; }

    /// <summary>The message key's columns instead of the replica identity's; null keeps those.</summary>
    public IReadOnlyList<string>? KeyColumns { get; init; }

    /// <summary>A fixed topic name without placeholders: tables sharing it were routed there on purpose.</summary>
    public bool TopicIsLiteral => Topic is not null && !Topic.Contains('{');

    /// <summary>How messages name the rule.</summary>
    public string Describe() => $"[[tables]] #{Entry} (match = \"{Match.Text}\")";

    /// <summary>Columns the rule names, each with the key that names it, for checks against the catalog.</summary>
    public IEnumerable<(string Key, string Column)> NamedColumns() =>
        (IncludeColumns ?? []).Select(c => ("include_columns", c))
            .Concat(ExcludeColumns.Select(c => ("exclude_columns", c)))
            .Concat(MaskColumns.Select(c => ("mask_columns", c)))
            .Concat((KeyColumns ?? []).Select(c => ("key_columns", c)));

    /// <summary>The column appears in events: included (or no include list) and not excluded.</summary>
    public bool Keeps(string column) => (IncludeColumns is null || IncludeColumns.Contains(column)) && !ExcludeColumns.Contains(column);
}

/// <summary>The <c>[[tables]]</c> array: per-table rules for topics, columns, masking and keys.</summary>
public sealed class TableRulesConfig
{
    private static readonly string[] Placeholders = ["{prefix}", "{schema}", "{table}"];

    public IReadOnlyList<TableRule> Rules { get; init; } = [];

    /// <summary>The first rule whose match fits the table, or null.</summary>
    public TableRule? RuleFor(string schema, string table)
    {
        foreach (var rule in Rules)
        {
            if (rule.Match.Matches(schema, table))
                return rule;
        }

        return null;
    }

    internal static TableRulesConfig Build(ConfigValues v)
    {
        var rules = new List<TableRule>();
        foreach (var entry in v.TableEntries)
            rules.Add(BuildRule(v, entry));
        return new TableRulesConfig { Rules = rules };
    }

    private static TableRule BuildRule(ConfigValues v, int entry)
    {
        var matchKey = ConfigSchema.TableMatch.Of(entry);
        var matchText = v.RequiredString(matchKey);
        var match = TablePattern.TryParse(matchText, out var error) ?? throw v.Error(matchKey, $"{error}, but found \"{matchText}\"");

        var include = Columns(v, ConfigSchema.TableIncludeColumns.Of(entry));
        var exclude = Columns(v, ConfigSchema.TableExcludeColumns.Of(entry));
        if (include is not null && exclude is not null)
        {
            throw v.Error(ConfigSchema.TableExcludeColumns.Of(entry),
                "cannot be combined with include_columns in the same rule: list the columns to keep, or the columns to drop, not both");
        }

        var rule = new TableRule
        {
            Entry = entry,
            Match = match,
            Topic = Topic(v, ConfigSchema.TableTopic.Of(entry)),
            IncludeColumns = include,
            ExcludeColumns = exclude ?? [],
            MaskColumns = Columns(v, ConfigSchema.TableMaskColumns.Of(entry)) ?? [],
            MaskWith = v.String(ConfigSchema.TableMaskWith.Of(entry)),
            KeyColumns = Columns(v, ConfigSchema.TableKeyColumns.Of(entry)),
        };
        Validate(v, rule);
        return rule;
    }

    private static void Validate(ConfigValues v, TableRule rule)
    {
        var entry = rule.Entry;
        if (rule.MaskWith is not null && rule.MaskColumns.Count == 0)
            throw v.Error(ConfigSchema.TableMaskWith.Of(entry), "is set but the rule has no mask_columns: add mask_columns = [...] or remove it");

        if (rule.MaskColumns.Count > 0 && rule.MaskWith is null && v.String(ConfigSchema.MaskSalt) is null)
        {
            throw v.Error(ConfigSchema.TableMaskColumns.Of(entry),
                $"hashes its columns, which needs a secret salt: set [masking] salt (or environment variable {ConfigSchema.MaskSalt.EnvVar}) " +
                "to a long random string, or give the rule mask_with = \"...\" to replace the values instead");
        }

        foreach (var column in rule.MaskColumns.Where(c => !rule.Keeps(c)))
            throw v.Error(ConfigSchema.TableMaskColumns.Of(entry), $"names \"{column}\", which the rule leaves out of events anyway: drop it from mask_columns or from the column filter");

        foreach (var column in (rule.KeyColumns ?? []).Where(c => !rule.Keeps(c)))
            throw v.Error(ConfigSchema.TableKeyColumns.Of(entry), $"names \"{column}\", which the rule leaves out of events: a key column must stay in the event");

        if (rule.MaskWith is not null && (rule.KeyColumns ?? []).FirstOrDefault(rule.MaskColumns.Contains) is { } fixedKey)
        {
            throw v.Error(ConfigSchema.TableMaskWith.Of(entry),
                $"would give key column \"{fixedKey}\" the same value in every row, so all rows would share one key (and log compaction would keep only one): " +
                "hash it (leave out mask_with) or choose other key_columns");
        }
    }

    private static IReadOnlyList<string>? Columns(ConfigValues v, ConfigKey key)
    {
        var columns = v.StringArray(key);
        if (columns is null)
            return null;
        if (columns.Count == 0)
            throw v.Error(key, "must list at least one column (leave the key out to keep the default)");
        if (columns.FirstOrDefault(c => c.Length == 0) is not null)
            throw v.Error(key, "must not contain an empty column name");
        return columns;
    }

    private static string? Topic(ConfigValues v, ConfigKey key)
    {
        var topic = v.NonEmptyString(key);
        if (topic is null)
            return null;

        var literal = topic;
        foreach (var placeholder in Placeholders)
            literal = literal.Replace(placeholder, "", StringComparison.Ordinal);
        if (literal.AsSpan().IndexOfAny('{', '}') >= 0)
            throw v.Error(key, $"may use only the placeholders {string.Join(", ", Placeholders)}, but found \"{topic}\"");
        if (literal.Any(c => !IsTopicCharacter(c)))
            throw v.Error(key, $"must be a legal Kafka topic name apart from its placeholders: letters, digits, '.', '_' and '-' only, but found \"{topic}\"");
        if (topic.Length > 249 || topic is "." or "..")
            throw v.Error(key, $"must be a legal Kafka topic name: 1-249 characters and not \".\" or \"..\", but found \"{topic}\"");
        return topic;
    }

    /// <summary>The characters Kafka allows in a topic name.</summary>
    public static bool IsTopicCharacter(char c) => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-';
}
