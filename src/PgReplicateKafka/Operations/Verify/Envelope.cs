using System.Buffers.Text;
using System.Text.Json;

namespace PgReplicateKafka.Operations.Verify;

/// <summary>What a replay needs of an event's value.</summary>
public enum EnvelopeOperation
{
    /// <summary>INSERT, UPDATE, READ (c, u, r): the key now holds <see cref="Envelope.After"/>.</summary>
    Upsert,

    /// <summary>DELETE (d): the key is gone.</summary>
    Delete,

    /// <summary>TRUNCATE (t): every key of the table is gone.</summary>
    Truncate,
}

/// <summary>
/// The parts of an event value that a replay reads: the operation, the <c>after</c> object (as raw JSON)
/// and <c>source.lsn</c>. Reads the native envelope and Debezium's, bare or wrapped in <c>{"schema":…,"payload":…}</c>.
/// </summary>
public readonly record struct Envelope(EnvelopeOperation Operation, int AfterStart, int AfterLength, int BeforeStart, int BeforeLength, ulong? Lsn)
{
    public ReadOnlySpan<byte> After(ReadOnlySpan<byte> value) => value.Slice(AfterStart, AfterLength);

    /// <summary>The <c>before</c> object, empty when the event has none.</summary>
    public ReadOnlySpan<byte> Before(ReadOnlySpan<byte> value) => value.Slice(BeforeStart, BeforeLength);

    /// <summary>
    /// A message key's fields: the key itself, or its <c>payload</c> when Kafka Connect's JsonConverter wrapped it
    /// with its schema (<c>{"schema":…,"payload":{…}}</c>).
    /// </summary>
    public static ReadOnlySpan<byte> KeyFields(ReadOnlySpan<byte> key)
    {
        if (!key.StartsWith("{\"schema\":"u8))
            return key;
        try
        {
            var reader = new Utf8JsonReader(key);
            reader.Read();
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var payload = reader.ValueTextEquals("payload"u8);
                reader.Read();
                if (payload && reader.TokenType == JsonTokenType.StartObject)
                {
                    var start = (int)reader.TokenStartIndex;
                    reader.Skip();
                    return key[start..(int)reader.BytesConsumed];
                }

                reader.Skip();
            }
        }
        catch (JsonException)
        {
            // Not JSON after all: the key as it is.
        }

        return key;
    }

    /// <summary>Parses <paramref name="value"/>; false when it is not an event this product writes (the reason says why).</summary>
    public static bool TryParse(ReadOnlySpan<byte> value, out Envelope envelope, out string? reason)
    {
        envelope = default;
        try
        {
            return TryParseObject(value, 0, out envelope, out reason);
        }
        catch (JsonException e)
        {
            reason = "not valid JSON: " + e.Message;
            return false;
        }
    }

    private static bool TryParseObject(ReadOnlySpan<byte> value, int offset, out Envelope envelope, out string? reason)
    {
        envelope = default;
        var reader = new Utf8JsonReader(value[offset..]);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            reason = "not a JSON object";
            return false;
        }

        EnvelopeOperation? operation = null;
        int afterStart = -1, afterLength = 0, beforeStart = 0, beforeLength = 0;
        ulong? lsn = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("payload"u8))
            {
                // Kafka Connect's JsonConverter with schemas: the event is the payload.
                reader.Read();
                if (reader.TokenType == JsonTokenType.StartObject)
                    return TryParseObject(value, offset + (int)reader.TokenStartIndex, out envelope, out reason);
                reader.Skip();
            }
            else if (reader.ValueTextEquals("op"u8))
            {
                reader.Read();
                operation = reader.TokenType == JsonTokenType.String ? OperationOf(ref reader) : null;
                if (operation is null)
                {
                    reason = $"unknown op {(reader.TokenType == JsonTokenType.String ? reader.GetString() : reader.TokenType.ToString())}";
                    return false;
                }
            }
            else if (reader.ValueTextEquals("after"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.StartObject)
                {
                    afterStart = offset + (int)reader.TokenStartIndex;
                    reader.Skip();
                    afterLength = offset + (int)reader.BytesConsumed - afterStart;
                }
            }
            else if (reader.ValueTextEquals("before"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.StartObject)
                {
                    beforeStart = offset + (int)reader.TokenStartIndex;
                    reader.Skip();
                    beforeLength = offset + (int)reader.BytesConsumed - beforeStart;
                }
            }
            else if (reader.ValueTextEquals("source"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.StartObject)
                    lsn = SourceLsn(ref reader);
                else
                    reader.Skip();
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        if (operation is null)
        {
            reason = "no \"op\"";
            return false;
        }

        if (operation == EnvelopeOperation.Upsert && afterStart < 0)
        {
            reason = "no \"after\" object";
            return false;
        }

        envelope = new Envelope(operation.Value, Math.Max(afterStart, 0), afterLength, beforeStart, beforeLength, lsn);
        reason = null;
        return true;
    }

    private static EnvelopeOperation? OperationOf(ref Utf8JsonReader reader)
    {
        if (reader.ValueTextEquals("INSERT"u8) || reader.ValueTextEquals("UPDATE"u8) || reader.ValueTextEquals("READ"u8) ||
            reader.ValueTextEquals("c"u8) || reader.ValueTextEquals("u"u8) || reader.ValueTextEquals("r"u8))
            return EnvelopeOperation.Upsert;
        if (reader.ValueTextEquals("DELETE"u8) || reader.ValueTextEquals("d"u8))
            return EnvelopeOperation.Delete;
        if (reader.ValueTextEquals("TRUNCATE"u8) || reader.ValueTextEquals("t"u8))
            return EnvelopeOperation.Truncate;
        return null;
    }

    /// <summary>source.lsn: "16/B374D848" in the native envelope, a number in Debezium's.</summary>
    private static ulong? SourceLsn(ref Utf8JsonReader reader)
    {
        ulong? lsn = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isLsn = reader.ValueTextEquals("lsn"u8);
            reader.Read();
            if (isLsn && reader.TokenType == JsonTokenType.Number && reader.TryGetUInt64(out var number))
                lsn = number;
            else if (isLsn && reader.TokenType == JsonTokenType.String)
                lsn = ParseLsn(reader.ValueSpan);
            else
                reader.Skip();
        }

        return lsn;
    }

    private static ulong? ParseLsn(ReadOnlySpan<byte> text)
    {
        var slash = text.IndexOf((byte)'/');
        if (slash <= 0 || !Utf8Parser.TryParse(text[..slash], out uint high, out var used, 'X') || used != slash ||
            !Utf8Parser.TryParse(text[(slash + 1)..], out uint low, out used, 'X') || used != text.Length - slash - 1)
            return null;
        return ((ulong)high << 32) | low;
    }
}
