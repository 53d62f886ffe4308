using PgReplicateKafka.Configuration;

namespace PgReplicateKafka.Events.Values;

/// <summary>Choices for how some types are rendered; the default renders by the documented value matrix.</summary>
/// <param name="NumericAsNumber">Write finite numeric values as JSON numbers instead of strings (may lose precision in consumers).</param>
/// <param name="JsonAsString">Write json/jsonb as a JSON string holding the document instead of embedding it.</param>
/// <param name="BinaryAsHex">Write bytea as lowercase hex instead of base64.</param>
public readonly record struct FormatOptions(bool NumericAsNumber = false, bool JsonAsString = false, bool BinaryAsHex = false)
{
    /// <summary>The options of the <c>[format]</c> section: the replicator and <c>verify</c> render values alike.</summary>
    public static FormatOptions From(FormatConfig format) => new(
        NumericAsNumber: format.Numeric == NumericFormat.Number,
        JsonAsString: format.Json == JsonFormat.String,
        BinaryAsHex: format.Binary == BinaryFormat.Hex);
}
