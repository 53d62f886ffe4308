using System.Collections;
using System.Globalization;
using System.Text.RegularExpressions;
using Tomlyn;
using Tomlyn.Model;
using Tomlyn.Parsing;
using Tomlyn.Syntax;

namespace PgReplicateKafka.Configuration;

/// <summary>
/// Reads the TOML configuration file, overlays <c>PGRK_&lt;SECTION&gt;_&lt;KEY&gt;</c> environment
/// variables, and validates the result. Every failure is a <see cref="ConfigException"/> that names
/// the key (and variable) and says what to do.
/// </summary>
public static partial class ConfigLoader
{
    /// <summary>Loads <paramref name="path"/>; <paramref name="environment"/> null means the process environment.</summary>
    public static ReplicatorConfig LoadFile(string path, IReadOnlyDictionary<string, string>? environment = null)
    {
        if (!File.Exists(path))
        {
            throw new ConfigException(
                $"Configuration file '{path}' does not exist. Pass --config FILE pointing at an existing file " +
                "(see config/example.toml for a template with every key).");
        }

        string toml;
        try
        {
            toml = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException(
                $"Configuration file '{path}' cannot be read: {ex.Message} Make it readable by this process.", ex);
        }

        return Parse(toml, path, environment);
    }

    /// <summary>
    /// Parses <paramref name="toml"/>; <paramref name="sourceName"/> names it in messages.
    /// <paramref name="environment"/> null means the process environment.
    /// </summary>
    public static ReplicatorConfig Parse(string toml, string sourceName, IReadOnlyDictionary<string, string>? environment = null)
    {
        var values = new ConfigValues(sourceName);
        ReadToml(ParseToml(toml, sourceName), values);
        ApplyEnvironment(environment ?? ProcessEnvironment(), values);
        return Build(values);
    }

    private static TomlTable ParseToml(string toml, string source)
    {
        // The syntax parser validates fully (duplicate keys included, which the serializer
        // silently lets the last one win); the serializer then gives the convenient model.
        var document = SyntaxParser.Parse(toml, source, validate: true);
        if (document.HasErrors)
        {
            throw SyntaxError(document.Diagnostics, source, toml);
        }

        try
        {
            return TomlSerializer.Deserialize<TomlTable>(toml, new TomlSerializerOptions { SourceName = source })!;
        }
        catch (TomlException ex)
        {
            throw SyntaxError(ex.Diagnostics, source, toml);
        }
    }

    private static ConfigException SyntaxError(DiagnosticsBag diagnostics, string source, string toml)
    {
        var errors = diagnostics
            .Where(d => d.Kind == DiagnosticMessageKind.Error)
            .Select(d => $"  {source}: line {d.Span.Start.Line + 1}, column {d.Span.Start.Column + 1}: {d.Message}");
        var message = $"{source} is not valid TOML:\n{string.Join('\n', errors)}\nFix the syntax at the position shown.";
        return new ConfigException(RedactPasswords(message, toml));
    }

    /// <summary>
    /// The parser quotes source text in some messages (a redefined key shows its first
    /// definition), so hide anything that looks like a password value from the file.
    /// </summary>
    private static string RedactPasswords(string message, string toml)
    {
        foreach (Match line in PasswordLine().Matches(toml))
        {
            // Both the literal as written and its content, whichever form the parser quoted.
            foreach (var secret in new[] { line.Groups["token"].Value, line.Groups["value"].Value }.Where(c => c.Length > 0))
            {
                message = message.Replace(secret, "***", StringComparison.Ordinal);
            }
        }

        return message;
    }

    private static void ReadToml(TomlTable root, ConfigValues values)
    {
        foreach (var (name, value) in root)
        {
            if (!ConfigSchema.Sections.Contains(name))
            {
                throw new ConfigException(UnknownTopLevel(name, value, values.Source));
            }

            if (value is not TomlTable table)
            {
                throw new ConfigException(
                    $"[{name}] in {values.Source} must be a table (a '[{name}]' header followed by keys), but found {Describe(value, secret: false)}.");
            }

            foreach (var (keyName, keyValue) in table)
            {
                if (name == "kafka" && keyName == ConfigSchema.KafkaPropertiesKey)
                {
                    ReadKafkaProperties(keyValue, "", values);
                    continue;
                }

                var key = ConfigSchema.Find(name, keyName) ?? throw new ConfigException(UnknownKey(name, keyName, values.Source));
                values.Set(key, keyValue, envVar: null);
            }
        }
    }

    private static string UnknownTopLevel(string name, object value, string source)
    {
        if (value is TomlTable)
        {
            var section = ConfigSchema.Closest(name, ConfigSchema.Sections);
            var hint = section is null ? "" : $" Did you mean [{section}]?";
            return $"Unknown section [{name}] in {source}.{hint} Known sections: {KnownSections()}.";
        }

        // A key above the first header is usually one that belongs in a section.
        var home = ConfigSchema.Keys.FirstOrDefault(k => k.Name == name);
        var where = home is null
            ? $" Known sections: {KnownSections()}."
            : $" Move it under [{home.Section}].";
        return $"Unknown key '{name}' at the top level of {source}: every key belongs in a section.{where}";
    }

    private static string UnknownKey(string section, string name, string source)
    {
        var closest = ConfigSchema.Closest(name, ConfigSchema.NamesIn(section));
        var hint = closest is null ? "" : $" Did you mean '{closest}'?";
        return $"Unknown key [{section}] {name} in {source}.{hint} Known keys in [{section}]: {string.Join(", ", ConfigSchema.NamesIn(section))}.";
    }

    private static string KnownSections() => string.Join(", ", ConfigSchema.Sections.Select(s => $"[{s}]"));

    /// <summary>
    /// librdkafka names contain dots, which TOML reads as nesting when unquoted
    /// (<c>linger.ms = 5</c>), so nested tables are flattened back into dotted names.
    /// </summary>
    private static void ReadKafkaProperties(object value, string prefix, ConfigValues values)
    {
        if (value is not TomlTable table)
        {
            throw new ConfigException(
                $"[kafka] properties in {values.Source} must be a table of librdkafka properties " +
                $"(a [kafka.properties] section), but found {Describe(value, secret: true)}.");
        }

        foreach (var (name, item) in table)
        {
            var property = prefix + name;
            if (item is TomlTable nested)
            {
                ReadKafkaProperties(nested, property + ".", values);
                continue;
            }

            values.Properties[property] = item switch
            {
                string s => s,
                long l => l.ToString(CultureInfo.InvariantCulture),
                bool b => b ? "true" : "false",
                // Values are not echoed: properties such as sasl.password are secrets.
                _ => throw new ConfigException(
                    $"[kafka.properties] {property} in {values.Source} must be a string, integer or boolean, " +
                    $"but found {Describe(item, secret: true)}. Write it as a string if librdkafka expects another form."),
            };
        }
    }

    private static Dictionary<string, string> ProcessEnvironment()
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            result[(string)entry.Key] = (string?)entry.Value ?? "";
        }

        return result;
    }

    private static void ApplyEnvironment(IReadOnlyDictionary<string, string> environment, ConfigValues values)
    {
        // Sorted so that, with several bad variables, the same one is reported every run.
        foreach (var (name, text) in environment.Where(e => e.Key.StartsWith(ConfigSchema.EnvPrefix, StringComparison.Ordinal))
                     .OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            if (name.StartsWith(ConfigSchema.TestEnvPrefix, StringComparison.Ordinal))
            {
                continue;
            }

            if (name.StartsWith(ConfigSchema.KafkaPropertiesEnvPrefix, StringComparison.Ordinal))
            {
                var property = name[ConfigSchema.KafkaPropertiesEnvPrefix.Length..].ToLowerInvariant().Replace('_', '.');
                if (property.Length == 0)
                {
                    throw new ConfigException(
                        $"Environment variable {name} names no Kafka property. Append the property name with dots " +
                        "written as underscores, e.g. PGRK_KAFKA_PROPERTIES_SASL_USERNAME for sasl.username, or unset it.");
                }

                values.Properties[property] = text;
                continue;
            }

            var key = ConfigSchema.Keys.FirstOrDefault(k => k.EnvVar == name);
            if (key is null)
            {
                var closest = ConfigSchema.Closest(name, ConfigSchema.Keys.Select(k => k.EnvVar));
                var hint = closest is null ? "" : $" Did you mean {closest}?";
                throw new ConfigException(
                    $"Environment variable {name} matches no configuration key.{hint} Variables starting with " +
                    $"{ConfigSchema.EnvPrefix} must name a key as {ConfigSchema.EnvPrefix}<SECTION>_<KEY> " +
                    $"(see docs/configuration.md); rename or unset it. ({ConfigSchema.TestEnvPrefix}* is reserved for tests and ignored.)");
            }

            values.Set(key, FromEnvironment(key, name, text), name);
        }
    }

    private static object FromEnvironment(ConfigKey key, string name, string text)
    {
        switch (key.Kind)
        {
            case ConfigValueKind.Integer:
                if (long.TryParse(text.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number))
                {
                    return number;
                }

                break;
            case ConfigValueKind.Boolean:
                if (bool.TryParse(text.Trim(), out var flag))
                {
                    return flag;
                }

                break;
            case ConfigValueKind.StringArray:
                return text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            default:
                return text;
        }

        var expected = key.Kind == ConfigValueKind.Integer ? "an integer" : "true or false";
        throw new ConfigException(
            $"Environment variable {name} sets {key.Display}, which must be {expected}, but found \"{text}\". " +
            $"Fix or unset {name}.");
    }

    private static ReplicatorConfig Build(ConfigValues v)
    {
        return new ReplicatorConfig
        {
            Postgres = BuildPostgres(v),
            Kafka = BuildKafka(v),
            Replication = BuildReplication(v),
            Format = BuildFormat(v),
            Metrics = BuildMetrics(v),
        };
    }

    private static PostgresConfig BuildPostgres(ConfigValues v)
    {
        var defaults = new PostgresConfig { Database = "", Username = "", Publication = "" };

        var publication = v.RequiredString(ConfigSchema.Publication);
        if (publication.Length > 63 || !Identifier().IsMatch(publication))
        {
            throw v.Error(ConfigSchema.Publication,
                $"must be a PostgreSQL identifier: 1-63 characters, a letter or underscore followed by letters, digits, " +
                $"underscores or '$' ([A-Za-z_][A-Za-z0-9_$]*), but found \"{publication}\"");
        }

        var slotName = v.String(ConfigSchema.SlotName) ?? defaults.SlotName;
        if (!SlotName().IsMatch(slotName))
        {
            throw v.Error(ConfigSchema.SlotName,
                $"must be 1-63 characters of lower-case letters, digits and underscores (PostgreSQL's rule for " +
                $"replication slot names), but found \"{slotName}\"");
        }

        var tables = v.StringArray(ConfigSchema.Tables) ?? defaults.Tables;
        foreach (var table in tables)
        {
            if (!TableName().IsMatch(table) || table.Split('.').Any(part => part.Length > 63))
            {
                throw v.Error(ConfigSchema.Tables,
                    $"entries must be 'schema.table' or 'table', each part a PostgreSQL identifier of at most 63 " +
                    $"characters ([A-Za-z_][A-Za-z0-9_$]*), but found \"{table}\"");
            }
        }

        var createPublication = v.Boolean(ConfigSchema.CreatePublication) ?? defaults.CreatePublication;
        if (createPublication && tables.Count == 0)
        {
            throw new ConfigException(
                $"[postgres] create_publication is true but [postgres] tables is empty in {v.Source}. List the tables " +
                "to publish in [postgres] tables (or PGRK_POSTGRES_TABLES), or set create_publication = false and " +
                "create the publication yourself.");
        }

        var (password, passwordFile) = ReadPassword(v);
        return new PostgresConfig
        {
            Host = v.NonEmptyString(ConfigSchema.Host) ?? defaults.Host,
            Port = (int?)v.Integer(ConfigSchema.Port, 1, 65535) ?? defaults.Port,
            Database = v.RequiredString(ConfigSchema.Database),
            Username = v.RequiredString(ConfigSchema.Username),
            Password = password,
            PasswordFile = passwordFile,
            Publication = publication,
            SlotName = slotName,
            SslMode = v.Choice(ConfigSchema.SslMode,
                ("disable", PgSslMode.Disable), ("allow", PgSslMode.Allow), ("prefer", PgSslMode.Prefer),
                ("require", PgSslMode.Require), ("verify-ca", PgSslMode.VerifyCa), ("verify-full", PgSslMode.VerifyFull))
                ?? defaults.SslMode,
            CreatePublication = createPublication,
            Tables = tables,
            ConnectTimeoutSecs = (int?)v.Integer(ConfigSchema.ConnectTimeoutSecs, 1, 3600) ?? defaults.ConnectTimeoutSecs,
        };
    }

    private static (string? Password, string? PasswordFile) ReadPassword(ConfigValues v)
    {
        var password = v.String(ConfigSchema.Password);
        var path = v.NonEmptyString(ConfigSchema.PasswordFile);
        if (path is null)
        {
            return (password, null);
        }

        if (password is not null)
        {
            throw new ConfigException(
                $"Both [postgres] password ({v.Origin(ConfigSchema.Password)}) and [postgres] password_file " +
                $"({v.Origin(ConfigSchema.PasswordFile)}) are set. Keep only one of them.");
        }

        string content;
        try
        {
            content = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw v.Error(ConfigSchema.PasswordFile,
                $"names '{path}', which cannot be read ({ex.Message}). Point it at a readable file holding the password");
        }

        // Editors and `echo` add a final newline that is not part of the password.
        content = content.TrimEnd('\r', '\n');
        if (content.Length == 0)
        {
            throw v.Error(ConfigSchema.PasswordFile, $"names '{path}', which is empty. Put the password in it");
        }

        return (content, path);
    }

    private static KafkaConfig BuildKafka(ConfigValues v)
    {
        var defaults = new KafkaConfig { Brokers = [] };

        var brokers = v.StringArray(ConfigSchema.Brokers) ?? throw v.Missing(ConfigSchema.Brokers);
        if (brokers.Count == 0)
        {
            throw v.Error(ConfigSchema.Brokers, "must list at least one broker as \"host:port\"");
        }

        foreach (var broker in brokers)
        {
            var colon = broker.LastIndexOf(':');
            var host = colon > 0 ? broker[..colon] : "";
            if (host.Length == 0 || host.Any(c => char.IsWhiteSpace(c) || c == ',') ||
                !int.TryParse(broker[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port) ||
                port is < 1 or > 65535)
            {
                throw v.Error(ConfigSchema.Brokers,
                    $"entries must be \"host:port\" with a port in 1..65535, but found \"{broker}\"");
            }
        }

        var topicPrefix = v.String(ConfigSchema.TopicPrefix) ?? defaults.TopicPrefix;
        if (!TopicName().IsMatch(topicPrefix))
        {
            throw v.Error(ConfigSchema.TopicPrefix,
                $"must be a legal Kafka topic-name prefix: letters, digits, '.', '_' and '-' only, but found \"{topicPrefix}\"");
        }

        var checkpointTopic = v.String(ConfigSchema.CheckpointTopic);
        if (checkpointTopic is not null && (checkpointTopic.Length > 249 || !TopicName().IsMatch(checkpointTopic)))
        {
            throw v.Error(ConfigSchema.CheckpointTopic,
                $"must be a legal Kafka topic name: 1-249 letters, digits, '.', '_' and '-', but found \"{checkpointTopic}\"");
        }

        var acks = v.String(ConfigSchema.Acks);
        if (acks is not null and not "all" and not "-1")
        {
            throw v.Error(ConfigSchema.Acks,
                $"must be \"all\" (or its synonym \"-1\") because the producer is idempotent, which requires " +
                $"acknowledgement by all in-sync replicas; found \"{acks}\"");
        }

        foreach (var property in v.Properties.Keys)
        {
            if (ReservedProperties.TryGetValue(property, out var instead))
            {
                throw new ConfigException(
                    $"[kafka.properties] {property} is set, but the replicator controls it: {instead}. Remove it " +
                    $"from [kafka.properties] in {v.Source} (and any PGRK_KAFKA_PROPERTIES_ variable for it).");
            }
        }

        return new KafkaConfig
        {
            Brokers = brokers,
            TopicPrefix = topicPrefix,
            Compression = v.Choice(ConfigSchema.Compression,
                ("none", KafkaCompression.None), ("gzip", KafkaCompression.Gzip), ("snappy", KafkaCompression.Snappy),
                ("lz4", KafkaCompression.Lz4), ("zstd", KafkaCompression.Zstd))
                ?? defaults.Compression,
            Acks = defaults.Acks,
            CheckpointTopic = checkpointTopic,
            TransactionalId = v.NonEmptyString(ConfigSchema.TransactionalId),
            Oversized = v.Choice(ConfigSchema.Oversized, ("fail", OversizedPolicy.Fail), ("skip", OversizedPolicy.Skip)) ?? defaults.Oversized,
            ConnectTimeoutSecs = (int?)v.Integer(ConfigSchema.KafkaConnectTimeoutSecs, 1, 3600) ?? defaults.ConnectTimeoutSecs,
            Properties = new Dictionary<string, string>(v.Properties, StringComparer.Ordinal),
        };
    }

    /// <summary>Properties with a dedicated key or a fixed value; setting them raw would fight the replicator.</summary>
    private static readonly Dictionary<string, string> ReservedProperties = new(StringComparer.Ordinal)
    {
        ["bootstrap.servers"] = "use [kafka] brokers",
        ["metadata.broker.list"] = "use [kafka] brokers",
        ["compression.type"] = "use [kafka] compression",
        ["compression.codec"] = "use [kafka] compression",
        ["acks"] = "use [kafka] acks",
        ["request.required.acks"] = "use [kafka] acks",
        ["enable.idempotence"] = "the producer is always idempotent",
    };

    private static ReplicationConfig BuildReplication(ConfigValues v)
    {
        var defaults = new ReplicationConfig();
        var retryInitial = (int?)v.Integer(ConfigSchema.RetryInitialMs, 1, 3_600_000) ?? defaults.RetryInitialMs;
        var retryMax = (int?)v.Integer(ConfigSchema.RetryMaxMs, 1, 3_600_000) ?? defaults.RetryMaxMs;
        if (retryMax < retryInitial)
            throw v.Error(ConfigSchema.RetryMaxMs, $"must be at least [replication] retry_initial_ms ({retryInitial}), but is {retryMax}");
        return new ReplicationConfig
        {
            PollIntervalMs = (int?)v.Integer(ConfigSchema.PollIntervalMs, 1, 60_000) ?? defaults.PollIntervalMs,
            KeepaliveIntervalSecs = (int?)v.Integer(ConfigSchema.KeepaliveIntervalSecs, 1, 3600) ?? defaults.KeepaliveIntervalSecs,
            CheckpointIntervalSecs = (int?)v.Integer(ConfigSchema.CheckpointIntervalSecs, 1, 3600) ?? defaults.CheckpointIntervalSecs,
            ShutdownTimeoutSecs = (int?)v.Integer(ConfigSchema.ShutdownTimeoutSecs, 1, 3600) ?? defaults.ShutdownTimeoutSecs,
            MaxInFlightBytes = v.Integer(ConfigSchema.MaxInFlightBytes, 1_048_576, long.MaxValue) ?? defaults.MaxInFlightBytes,
            Delivery = v.Choice(ConfigSchema.Delivery,
                ("at_least_once", DeliveryGuarantee.AtLeastOnce), ("exactly_once", DeliveryGuarantee.ExactlyOnce))
                ?? defaults.Delivery,
            TransactionMaxEvents = (int?)v.Integer(ConfigSchema.TransactionMaxEvents, 1, int.MaxValue) ?? defaults.TransactionMaxEvents,
            TransactionMaxMs = (int?)v.Integer(ConfigSchema.TransactionMaxMs, 1, int.MaxValue) ?? defaults.TransactionMaxMs,
            RetryInitialMs = retryInitial,
            RetryMaxMs = retryMax,
        };
    }

    private static FormatConfig BuildFormat(ConfigValues v)
    {
        var defaults = new FormatConfig();
        return new FormatConfig
        {
            Numeric = v.Choice(ConfigSchema.Numeric, ("string", NumericFormat.String), ("number", NumericFormat.Number))
                ?? defaults.Numeric,
            Json = v.Choice(ConfigSchema.Json, ("value", JsonFormat.Value), ("string", JsonFormat.String))
                ?? defaults.Json,
            Binary = v.Choice(ConfigSchema.Binary, ("base64", BinaryFormat.Base64), ("hex", BinaryFormat.Hex))
                ?? defaults.Binary,
        };
    }

    private static MetricsConfig BuildMetrics(ConfigValues v)
    {
        var listen = v.String(ConfigSchema.MetricsListen);
        if (listen is null)
        {
            return new MetricsConfig();
        }

        var colon = listen.LastIndexOf(':');
        var host = colon > 0 ? listen[..colon] : "";
        if (host.Length == 0 || host.Any(c => char.IsWhiteSpace(c) || c is '/' or ',') ||
            !int.TryParse(listen[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port) ||
            port is < 1 or > 65535)
        {
            throw v.Error(ConfigSchema.MetricsListen,
                $"must be \"host:port\" with a port in 1..65535 (e.g. \"127.0.0.1:9187\", or \"0.0.0.0:9187\" for every interface), but found \"{listen}\"");
        }

        return new MetricsConfig { ListenHost = host, ListenPort = port };
    }

    /// <summary>How a found value appears in a message; secrets show only their type.</summary>
    internal static string Describe(object? value, bool secret) => value switch
    {
        string s => secret ? "a string" : $"the string \"{s}\"",
        long l => secret ? "an integer" : $"the integer {l}",
        bool b => secret ? "a boolean" : $"the boolean {(b ? "true" : "false")}",
        double d => secret ? "a float" : $"the float {d.ToString(CultureInfo.InvariantCulture)}",
        TomlArray or IReadOnlyList<string> => "an array",
        TomlTable => "a table",
        _ => "a date/time",
    };

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_$]*$")]
    private static partial Regex Identifier();

    [GeneratedRegex("^[a-z0-9_]{1,63}$")]
    private static partial Regex SlotName();

    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$")]
    private static partial Regex TableName();

    [GeneratedRegex("^[A-Za-z0-9._-]+$")]
    private static partial Regex TopicName();

    [GeneratedRegex(@"^[ \t]*[""']?password[""']?[ \t]*=[ \t]*(?<token>""(?<value>(?:[^""\\\r\n]|\\.)*)""|'(?<value>[^'\r\n]*)'|(?<value>[^\s#]+))", RegexOptions.Multiline)]
    private static partial Regex PasswordLine();
}
