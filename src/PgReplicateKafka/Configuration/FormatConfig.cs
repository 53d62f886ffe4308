namespace PgReplicateKafka.Configuration;

/// <summary>The <c>[format]</c> section: how PostgreSQL values are rendered in JSON.</summary>
public sealed class FormatConfig
{
    public NumericFormat Numeric { get; init; } = NumericFormat.String;
    public JsonFormat Json { get; init; } = JsonFormat.Value;
    public BinaryFormat Binary { get; init; } = BinaryFormat.Base64;

    internal static FormatConfig Build(ConfigValues v)
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
}

/// <summary>numeric columns: as a JSON string (exact) or a JSON number (may lose precision in readers).</summary>
public enum NumericFormat { String, Number }

/// <summary>json/jsonb columns: embedded as a JSON value, or quoted as a JSON string.</summary>
public enum JsonFormat { Value, String }

/// <summary>bytea columns: base64 or hex text.</summary>
public enum BinaryFormat { Base64, Hex }
