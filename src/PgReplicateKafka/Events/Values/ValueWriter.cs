using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text.Json;

namespace PgReplicateKafka.Events.Values;

/// <summary>
/// Writes one non-null column value, given as PostgreSQL's text output under the session settings the source pins (Source.PgSessionSettings),
/// as JSON. Reformatted scalars whose text does not match the expected shape are written as printed,
/// so an unexpected format degrades to a string instead of failing the stream.
/// </summary>
public static class ValueWriter
{
    // Longest timestamptz PG prints is "294276-12-31 23:59:59.999999+15:59:59 BC" (41 bytes).
    private const int TimeBufferSize = 64;
    private const int StackBytes = 256;

    // Runs per change: compiled optimized at its first call, not after seconds of tier 0 (see EventPump).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Write(Utf8JsonWriter writer, PgType type, ReadOnlySpan<byte> text, FormatOptions options)
    {
        switch (type.Kind)
        {
            case PgTypeKind.Bool:
                WriteBool(writer, text);
                break;
            case PgTypeKind.Integer:
                // PG's integer output ("-9223372036854775808") is always a valid JSON number.
                writer.WriteRawValue(text, skipInputValidation: true);
                break;
            case PgTypeKind.Float:
                // Finite float output ("0.1", "1e-300", "1.5e+300") is valid JSON number syntax.
                WriteNumberOrString(writer, text, asNumber: true);
                break;
            case PgTypeKind.Numeric:
                // numeric_out never uses exponents, so finite values are valid JSON numbers.
                WriteNumberOrString(writer, text, options.NumericAsNumber);
                break;
            case PgTypeKind.Json:
                WriteJson(writer, text, options.JsonAsString);
                break;
            case PgTypeKind.Bytea:
                WriteBytea(writer, text, options.BinaryAsHex);
                break;
            case PgTypeKind.Timestamp:
                WriteTimestamp(writer, text);
                break;
            case PgTypeKind.TimestampTz:
                WriteTimestampTz(writer, text);
                break;
            case PgTypeKind.TimeTz:
                WriteTimeTz(writer, text);
                break;
            case PgTypeKind.Hstore:
                PgTextParser.WriteHstore(writer, text);
                break;
            case PgTypeKind.Array:
                PgTextParser.WriteArray(writer, type, text, options);
                break;
            default:
                writer.WriteStringValue(text);
                break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WriteBool(Utf8JsonWriter writer, ReadOnlySpan<byte> text)
    {
        if (text.Length == 1 && text[0] == (byte)'t')
        {
            writer.WriteBooleanValue(true);
        }
        else if (text.Length == 1 && text[0] == (byte)'f')
        {
            writer.WriteBooleanValue(false);
        }
        else
        {
            writer.WriteStringValue(text);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WriteNumberOrString(Utf8JsonWriter writer, ReadOnlySpan<byte> text, bool asNumber)
    {
        // "NaN", "Infinity", "-Infinity" have no JSON number form.
        var nonFinite = text.Length == 0 || text[0] == (byte)'N' || text[0] == (byte)'I' || (text.Length > 1 && text[1] == (byte)'I');
        if (asNumber && !nonFinite)
        {
            writer.WriteRawValue(text, skipInputValidation: true);
        }
        else
        {
            writer.WriteStringValue(text);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WriteJson(Utf8JsonWriter writer, ReadOnlySpan<byte> text, bool asString)
    {
        if (asString)
        {
            writer.WriteStringValue(text);
        }
        else
        {
            // PG validated the document on input; the writer's validator would also reject legal documents nested deeper than 64.
            writer.WriteRawValue(text, skipInputValidation: true);
        }
    }

    private static void WriteBytea(Utf8JsonWriter writer, ReadOnlySpan<byte> text, bool asHex)
    {
        if (text.Length < 2 || text[0] != (byte)'\\' || text[1] != (byte)'x' || (text.Length & 1) != 0)
        {
            writer.WriteStringValue(text);
            return;
        }

        var hex = text[2..];
        if (asHex)
        {
            // byteaout prints lowercase hex already.
            writer.WriteStringValue(hex);
            return;
        }

        var length = hex.Length / 2;
        byte[]? rented = null;
        var bytes = length <= StackBytes ? stackalloc byte[StackBytes] : (rented = ArrayPool<byte>.Shared.Rent(length));
        try
        {
            for (var i = 0; i < length; i++)
            {
                var hi = HexValue(hex[2 * i]);
                var lo = HexValue(hex[(2 * i) + 1]);
                if ((hi | lo) < 0)
                {
                    writer.WriteStringValue(text);
                    return;
                }

                bytes[i] = (byte)((hi << 4) | lo);
            }

            writer.WriteBase64StringValue(bytes[..length]);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    private static int HexValue(byte c) => c switch
    {
        >= (byte)'0' and <= (byte)'9' => c - '0',
        >= (byte)'a' and <= (byte)'f' => c - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => c - 'A' + 10,
        _ => -1,
    };

    // "2023-10-15 10:30:00.5" -> "2023-10-15T10:30:00.5"; a " BC" suffix is kept as printed, like dates.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WriteTimestamp(Utf8JsonWriter writer, ReadOnlySpan<byte> text)
    {
        var space = text.IndexOf((byte)' ');
        if (space < 0 || text.Length > TimeBufferSize)
        {
            // infinity / -infinity
            writer.WriteStringValue(text);
            return;
        }

        Span<byte> buffer = stackalloc byte[TimeBufferSize];
        text.CopyTo(buffer);
        buffer[space] = (byte)'T';
        writer.WriteStringValue(buffer[..text.Length]);
    }

    // "2023-10-15 10:30:00+00" -> "2023-10-15T10:30:00Z"; any other offset is applied to give UTC.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WriteTimestampTz(Utf8JsonWriter writer, ReadOnlySpan<byte> text)
    {
        Span<byte> buffer = stackalloc byte[TimeBufferSize];
        if (text.Length <= TimeBufferSize && TimestampText.TryFormatUtc(text, buffer, out var written))
        {
            writer.WriteStringValue(buffer[..written]);
        }
        else
        {
            writer.WriteStringValue(text);
        }
    }

    // "10:30:00-08" -> "10:30:00-08:00"; offsets with minutes or seconds stay as printed.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WriteTimeTz(Utf8JsonWriter writer, ReadOnlySpan<byte> text)
    {
        var sign = text.LastIndexOfAny((byte)'+', (byte)'-');
        if (sign < 0 || text.Length - sign != 3 || text.Length > TimeBufferSize)
        {
            writer.WriteStringValue(text);
            return;
        }

        Span<byte> buffer = stackalloc byte[TimeBufferSize];
        text.CopyTo(buffer);
        ":00"u8.CopyTo(buffer[text.Length..]);
        writer.WriteStringValue(buffer[..(text.Length + 3)]);
    }
}
