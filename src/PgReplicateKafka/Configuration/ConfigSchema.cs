namespace PgReplicateKafka.Configuration;

internal enum ConfigValueKind { String, Integer, Boolean, StringArray }

/// <summary>
/// One known key: its section, TOML name, type, and whether its value must never be shown. A key of an
/// array of tables (<c>[[tables]]</c>) also carries its entry's 1-based position, which its variable names.
/// </summary>
internal sealed record ConfigKey(string Section, string Name, ConfigValueKind Kind, bool Secret = false, int Entry = 0)
{
    public string Display => Entry == 0 ? $"[{Section}] {Name}" : $"[[{Section}]] #{Entry} {Name}";

    public string EnvVar => Entry == 0
        ? $"{ConfigSchema.EnvPrefix}{Section.ToUpperInvariant()}_{Name.ToUpperInvariant()}"
        : $"{ConfigSchema.EnvPrefix}{Section.ToUpperInvariant()}_{Entry}_{Name.ToUpperInvariant()}";

    /// <summary>This key of entry <paramref name="entry"/> of its array of tables.</summary>
    public ConfigKey Of(int entry) => this with { Entry = entry };
}

/// <summary>The set of keys the loader accepts; anything else is rejected as a probable typo.</summary>
internal static class ConfigSchema
{
    public const string EnvPrefix = "PGRK_";

    /// <summary>Reserved for tests, so they can set variables without tripping typo protection.</summary>
    public const string TestEnvPrefix = "PGRK_TEST_";

    public const string KafkaPropertiesKey = "properties";
    public const string KafkaPropertiesEnvPrefix = "PGRK_KAFKA_PROPERTIES_";

    public static readonly string[] Sections = ["postgres", "kafka", "replication", "format", "metrics", "masking", "snapshot"];

    /// <summary>The array of tables of per-table rules, <c>[[tables]]</c>.</summary>
    public const string TablesSection = "tables";

    public static readonly ConfigKey Host = new("postgres", "host", ConfigValueKind.String);
    public static readonly ConfigKey Port = new("postgres", "port", ConfigValueKind.Integer);
    public static readonly ConfigKey Database = new("postgres", "database", ConfigValueKind.String);
    public static readonly ConfigKey Username = new("postgres", "username", ConfigValueKind.String);
    public static readonly ConfigKey Password = new("postgres", "password", ConfigValueKind.String, Secret: true);
    public static readonly ConfigKey PasswordFile = new("postgres", "password_file", ConfigValueKind.String);
    public static readonly ConfigKey Publication = new("postgres", "publication", ConfigValueKind.String);
    public static readonly ConfigKey SlotName = new("postgres", "slot_name", ConfigValueKind.String);
    public static readonly ConfigKey SslMode = new("postgres", "sslmode", ConfigValueKind.String);
    public static readonly ConfigKey CreatePublication = new("postgres", "create_publication", ConfigValueKind.Boolean);
    public static readonly ConfigKey FailoverSlot = new("postgres", "failover_slot", ConfigValueKind.Boolean);
    public static readonly ConfigKey Tables = new("postgres", "tables", ConfigValueKind.StringArray);
    public static readonly ConfigKey ConnectTimeoutSecs = new("postgres", "connect_timeout_secs", ConfigValueKind.Integer);

    public static readonly ConfigKey Brokers = new("kafka", "brokers", ConfigValueKind.StringArray);
    public static readonly ConfigKey TopicPrefix = new("kafka", "topic_prefix", ConfigValueKind.String);
    public static readonly ConfigKey Compression = new("kafka", "compression", ConfigValueKind.String);
    public static readonly ConfigKey Acks = new("kafka", "acks", ConfigValueKind.String);
    public static readonly ConfigKey CheckpointTopic = new("kafka", "checkpoint_topic", ConfigValueKind.String);
    public static readonly ConfigKey Oversized = new("kafka", "oversized", ConfigValueKind.String);
    public static readonly ConfigKey TransactionalId = new("kafka", "transactional_id", ConfigValueKind.String);
    public static readonly ConfigKey KafkaConnectTimeoutSecs = new("kafka", "connect_timeout_secs", ConfigValueKind.Integer);

    public static readonly ConfigKey PollIntervalMs = new("replication", "poll_interval_ms", ConfigValueKind.Integer);
    public static readonly ConfigKey KeepaliveIntervalSecs = new("replication", "keepalive_interval_secs", ConfigValueKind.Integer);
    public static readonly ConfigKey CheckpointIntervalSecs = new("replication", "checkpoint_interval_secs", ConfigValueKind.Integer);
    public static readonly ConfigKey ShutdownTimeoutSecs = new("replication", "shutdown_timeout_secs", ConfigValueKind.Integer);
    public static readonly ConfigKey MaxInFlightBytes = new("replication", "max_in_flight_bytes", ConfigValueKind.Integer);
    public static readonly ConfigKey Delivery = new("replication", "delivery", ConfigValueKind.String);
    public static readonly ConfigKey TransactionMaxEvents = new("replication", "transaction_max_events", ConfigValueKind.Integer);
    public static readonly ConfigKey TransactionMaxMs = new("replication", "transaction_max_ms", ConfigValueKind.Integer);
    public static readonly ConfigKey RetryInitialMs = new("replication", "retry_initial_ms", ConfigValueKind.Integer);
    public static readonly ConfigKey RetryMaxMs = new("replication", "retry_max_ms", ConfigValueKind.Integer);

    public static readonly ConfigKey Numeric = new("format", "numeric", ConfigValueKind.String);
    public static readonly ConfigKey Json = new("format", "json", ConfigValueKind.String);
    public static readonly ConfigKey Binary = new("format", "binary", ConfigValueKind.String);
    public static readonly ConfigKey Envelope = new("format", "envelope", ConfigValueKind.String);
    public static readonly ConfigKey DecimalHandling = new("format", "decimal_handling", ConfigValueKind.String);
    public static readonly ConfigKey TimePrecision = new("format", "time_precision", ConfigValueKind.String);
    public static readonly ConfigKey Schemas = new("format", "schemas", ConfigValueKind.Boolean);
    public static readonly ConfigKey Tombstones = new("format", "tombstones", ConfigValueKind.Boolean);
    public static readonly ConfigKey TransactionTopic = new("format", "transaction_topic", ConfigValueKind.String);

    public static readonly ConfigKey MetricsListen = new("metrics", "listen", ConfigValueKind.String);

    public static readonly ConfigKey MaskSalt = new("masking", "salt", ConfigValueKind.String, Secret: true);

    // The keys of one [[tables]] entry, at Entry 0; Of(n) gives entry n's.
    public static readonly ConfigKey TableMatch = new(TablesSection, "match", ConfigValueKind.String);
    public static readonly ConfigKey TableTopic = new(TablesSection, "topic", ConfigValueKind.String);
    public static readonly ConfigKey TableIncludeColumns = new(TablesSection, "include_columns", ConfigValueKind.StringArray);
    public static readonly ConfigKey TableExcludeColumns = new(TablesSection, "exclude_columns", ConfigValueKind.StringArray);
    public static readonly ConfigKey TableMaskColumns = new(TablesSection, "mask_columns", ConfigValueKind.StringArray);
    public static readonly ConfigKey TableMaskWith = new(TablesSection, "mask_with", ConfigValueKind.String);
    public static readonly ConfigKey TableKeyColumns = new(TablesSection, "key_columns", ConfigValueKind.StringArray);

    public static readonly ConfigKey[] TableKeys =
    [
        TableMatch, TableTopic, TableIncludeColumns, TableExcludeColumns, TableMaskColumns, TableMaskWith, TableKeyColumns,
    ];
    public static readonly ConfigKey SnapshotMode = new("snapshot", "mode", ConfigValueKind.String);
    public static readonly ConfigKey SnapshotNewTables = new("snapshot", "new_tables", ConfigValueKind.Boolean);
    public static readonly ConfigKey SnapshotParallelism = new("snapshot", "parallelism", ConfigValueKind.Integer);
    public static readonly ConfigKey SnapshotChunkSize = new("snapshot", "chunk_size", ConfigValueKind.Integer);

    public static readonly ConfigKey[] Keys =
    [
        Host, Port, Database, Username, Password, PasswordFile, Publication, SlotName, SslMode,
        CreatePublication, FailoverSlot, Tables, ConnectTimeoutSecs,
        Brokers, TopicPrefix, Compression, Acks, CheckpointTopic, Oversized, TransactionalId, KafkaConnectTimeoutSecs,
        PollIntervalMs, KeepaliveIntervalSecs, CheckpointIntervalSecs, ShutdownTimeoutSecs,
        MaxInFlightBytes, Delivery, TransactionMaxEvents, TransactionMaxMs, RetryInitialMs, RetryMaxMs,
        Numeric, Json, Binary, Envelope, DecimalHandling, TimePrecision, Schemas, Tombstones, TransactionTopic,
        MetricsListen,
        MaskSalt,
        SnapshotMode, SnapshotNewTables, SnapshotParallelism, SnapshotChunkSize,
    ];

    public static ConfigKey? Find(string section, string name) =>
        Keys.FirstOrDefault(k => k.Section == section && k.Name == name);

    /// <summary>The key <paramref name="name"/> of <c>[[tables]]</c> entry <paramref name="entry"/>, or null.</summary>
    public static ConfigKey? FindTableKey(string name, int entry) =>
        TableKeys.FirstOrDefault(k => k.Name == name)?.Of(entry);

    /// <summary>Names a section accepts, including the <c>[kafka.properties]</c> sub-table.</summary>
    public static IEnumerable<string> NamesIn(string section)
    {
        var names = Keys.Concat(TableKeys).Where(k => k.Section == section).Select(k => k.Name);
        return section == "kafka" ? names.Append(KafkaPropertiesKey) : names;
    }

    /// <summary>
    /// The closest candidate by edit distance, or null when none is close enough to be the
    /// likely intent (suggesting something unrelated would mislead more than help).
    /// </summary>
    public static string? Closest(string name, IEnumerable<string> candidates)
    {
        var threshold = Math.Max(2, name.Length / 4);
        string? best = null;
        var bestDistance = int.MaxValue;
        foreach (var candidate in candidates)
        {
            var distance = EditDistance(name.ToLowerInvariant(), candidate.ToLowerInvariant());
            if (distance < bestDistance)
            {
                best = candidate;
                bestDistance = distance;
            }
        }

        return bestDistance <= threshold ? best : null;
    }

    /// <summary>Optimal string alignment distance, so a swapped pair of letters counts as one edit.</summary>
    internal static int EditDistance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++)
        {
            d[i, 0] = i;
        }

        for (var j = 0; j <= b.Length; j++)
        {
            d[0, j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                {
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
                }
            }
        }

        return d[a.Length, b.Length];
    }
}
