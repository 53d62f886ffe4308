using System.Text.RegularExpressions;

namespace PgReplicateKafka.Configuration;

/// <summary>The <c>[format]</c> section: the envelope, how PostgreSQL values are rendered, and the extra messages.</summary>
public sealed partial class FormatConfig
{
    public EnvelopeFormat Envelope { get; init; } = EnvelopeFormat.Native;
    public NumericFormat Numeric { get; init; } = NumericFormat.String;
    public JsonFormat Json { get; init; } = JsonFormat.Value;
    public BinaryFormat Binary { get; init; } = BinaryFormat.Base64;

    /// <summary>Debezium envelope only: numeric, decimal and money values.</summary>
    public DecimalHandlingMode DecimalHandling { get; init; } = DecimalHandlingMode.Precise;

    /// <summary>Debezium envelope only: date, time and timestamp values.</summary>
    public TimePrecisionMode TimePrecision { get; init; } = TimePrecisionMode.Adaptive;

    /// <summary>Debezium envelope only: Kafka Connect JsonConverter's <c>{"schema", "payload"}</c> wrapping.</summary>
    public bool Schemas { get; init; }

    /// <summary>A message with a null value after each delete, so log compaction removes the row.</summary>
    public bool Tombstones { get; init; } = true;

    /// <summary>Where BEGIN and END records of each transaction go; null: no transaction metadata.</summary>
    public string? TransactionTopic { get; init; }

    internal static FormatConfig Build(ConfigValues v)
    {
        var defaults = new FormatConfig();
        var envelope = v.Choice(ConfigSchema.Envelope, ("native", EnvelopeFormat.Native), ("debezium", EnvelopeFormat.Debezium))
            ?? defaults.Envelope;
        if (envelope == EnvelopeFormat.Native)
        {
            // schemas = false is what the native envelope does anyway; any other Debezium-only setting would be ignored.
            foreach (var key in new[] { ConfigSchema.DecimalHandling, ConfigSchema.TimePrecision, ConfigSchema.Schemas })
            {
                if (v.Has(key) && (key != ConfigSchema.Schemas || v.Boolean(key) == true))
                    throw v.Error(key, "applies only to envelope = \"debezium\"; set [format] envelope = \"debezium\" or remove it");
            }
        }

        var transactionTopic = v.String(ConfigSchema.TransactionTopic);
        if (transactionTopic is not null && (transactionTopic.Length > 249 || !TopicName().IsMatch(transactionTopic)))
        {
            throw v.Error(ConfigSchema.TransactionTopic,
                $"must be a legal Kafka topic name: 1-249 letters, digits, '.', '_' and '-', but found \"{transactionTopic}\"");
        }

        return new FormatConfig
        {
            Envelope = envelope,
            Numeric = v.Choice(ConfigSchema.Numeric, ("string", NumericFormat.String), ("number", NumericFormat.Number))
                ?? defaults.Numeric,
            Json = v.Choice(ConfigSchema.Json, ("value", JsonFormat.Value), ("string", JsonFormat.String))
                ?? defaults.Json,
            Binary = v.Choice(ConfigSchema.Binary, ("base64", BinaryFormat.Base64), ("hex", BinaryFormat.Hex))
                ?? defaults.Binary,
            DecimalHandling = v.Choice(ConfigSchema.DecimalHandling,
                ("precise", DecimalHandlingMode.Precise), ("string", DecimalHandlingMode.String), ("double", DecimalHandlingMode.Double))
                ?? defaults.DecimalHandling,
            TimePrecision = v.Choice(ConfigSchema.TimePrecision, ("adaptive", TimePrecisionMode.Adaptive), ("connect", TimePrecisionMode.Connect))
                ?? defaults.TimePrecision,
            Schemas = v.Boolean(ConfigSchema.Schemas) ?? defaults.Schemas,
            Tombstones = v.Boolean(ConfigSchema.Tombstones) ?? defaults.Tombstones,
            TransactionTopic = transactionTopic,
        };
    }

    [GeneratedRegex("^[A-Za-z0-9._-]+$")]
    private static partial Regex TopicName();
}

/// <summary>The message layout: this program's own, or Debezium's PostgreSQL connector's.</summary>
public enum EnvelopeFormat { Native, Debezium }

/// <summary>numeric columns: as a JSON string (exact) or a JSON number (may lose precision in readers).</summary>
public enum NumericFormat { String, Number }

/// <summary>json/jsonb columns: embedded as a JSON value, or quoted as a JSON string.</summary>
public enum JsonFormat { Value, String }

/// <summary>bytea columns: base64 or hex text.</summary>
public enum BinaryFormat { Base64, Hex }

/// <summary>Debezium's decimal.handling.mode.</summary>
public enum DecimalHandlingMode { Precise, String, Double }

/// <summary>Debezium's time.precision.mode.</summary>
public enum TimePrecisionMode { Adaptive, Connect }
