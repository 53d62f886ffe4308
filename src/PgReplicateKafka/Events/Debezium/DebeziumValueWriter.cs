// Longer than 300 lines: the one switch over every Debezium type family; split, the mapping table would be scattered over files.
using System.Buffers;
using System.Buffers.Binary;
using System.Buffers.Text;
using System.Runtime.CompilerServices;
using System.Text.Json;
using PgReplicateKafka.Events.Values;

namespace PgReplicateKafka.Events.Debezium;

/// <summary>
/// Writes one non-null column value, given as PostgreSQL's text output, the way Debezium's PostgreSQL connector
/// converts it and Kafka Connect's JsonConverter prints it. Text that does not have the expected shape is written
/// as printed, so an unexpected format degrades to a string instead of failing the stream.
/// </summary>
internal sealed class DebeziumValueWriter
{
    /// <summary>Debezium's default <c>unavailable.value.placeholder</c> for unchanged TOASTed values.</summary>
    internal static ReadOnlySpan<byte> Unavailable => "__debezium_unavailable_value"u8;

    private const int StackBytes = 256;
    private const int TimeBufferSize = 64;

    // hstore becomes a JSON document inside a JSON string: it is written here first, then copied as a string.
    private readonly ArrayBufferWriter<byte> _scratch = new(256);
    private Utf8JsonWriter? _scratchWriter;

    // Runs per change: compiled optimized at its first call, not after seconds of tier 0 (see EventPump).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Write(Utf8JsonWriter w, DebeziumField field, ReadOnlySpan<byte> text)
    {
        switch (field.Kind)
        {
            case DebeziumKind.Boolean:
                if (text.Length == 1 && text[0] is (byte)'t' or (byte)'f')
                    w.WriteBooleanValue(text[0] == (byte)'t');
                else
                    w.WriteStringValue(text);
                break;
            case DebeziumKind.Integer:
                // PG's integer output is always a valid JSON number.
                w.WriteRawValue(text, skipInputValidation: true);
                break;
            case DebeziumKind.Float:
                WriteFloat(w, text);
                break;
            case DebeziumKind.Bytes:
                WriteBytea(w, text);
                break;
            case DebeziumKind.Bit:
                w.WriteBooleanValue(text.IndexOf((byte)'1') >= 0);
                break;
            case DebeziumKind.Bits:
                WriteBits(w, text);
                break;
            case DebeziumKind.Decimal:
                if (!DebeziumDecimal.TryWriteUnscaled(w, text, stripTrailingZeros: false, out _))
                    w.WriteNullValue(); // NaN/Infinity: Debezium's precise mode has no form for them (it stops with an error).
                break;
            case DebeziumKind.VariableScaleDecimal:
                WriteVariableScale(w, text);
                break;
            case DebeziumKind.DecimalString:
                w.WriteStringValue(text);
                break;
            case DebeziumKind.DecimalDouble:
                WriteDouble(w, text);
                break;
            case DebeziumKind.Money or DebeziumKind.MoneyString or DebeziumKind.MoneyDouble:
                WriteMoney(w, field.Kind, text);
                break;
            case DebeziumKind.Date:
                if (DebeziumTime.TryParseDate(text, out var days))
                    w.WriteNumberValue(days);
                else
                    w.WriteStringValue(text);
                break;
            case DebeziumKind.TimeMillis or DebeziumKind.TimeMicros:
                if (DebeziumTime.TryParseTime(text, out var time))
                    w.WriteNumberValue(field.Kind == DebeziumKind.TimeMicros ? time : time / 1000);
                else
                    w.WriteStringValue(text);
                break;
            case DebeziumKind.TimestampMillis or DebeziumKind.TimestampMicros:
                if (DebeziumTime.TryParseTimestamp(text, out var timestamp))
                    w.WriteNumberValue(field.Kind == DebeziumKind.TimestampMicros ? Saturated(timestamp) : (long)FloorDiv(timestamp, 1000));
                else
                    w.WriteStringValue(text);
                break;
            case DebeziumKind.ZonedTimestamp:
                WriteZonedTimestamp(w, field, text);
                break;
            case DebeziumKind.ZonedTime:
                Span<byte> zoned = stackalloc byte[TimeBufferSize];
                if (text.Length <= TimeBufferSize && DebeziumTime.TryFormatTimeTz(text, zoned, out var zonedLength))
                    w.WriteStringValue(zoned[..zonedLength]);
                else
                    w.WriteStringValue(text);
                break;
            case DebeziumKind.MicroDuration:
                if (DebeziumTime.TryParseIntervalMicros(text, out var duration))
                    w.WriteNumberValue(duration);
                else
                    w.WriteStringValue(text);
                break;
            case DebeziumKind.Point:
                WritePoint(w, text);
                break;
            case DebeziumKind.Hstore:
                WriteHstore(w, text);
                break;
            case DebeziumKind.Array:
                DebeziumArray.Write(this, w, field, text);
                break;
            default:
                w.WriteStringValue(text);
                break;
        }
    }

    /// <summary>
    /// An unchanged TOASTed value PostgreSQL did not resend: Debezium's placeholder in the column's form,
    /// or null for types that have none (only variable-length types are TOASTed).
    /// </summary>
    public static void WriteUnavailable(Utf8JsonWriter w, DebeziumField field)
    {
        switch (field.Kind)
        {
            case DebeziumKind.String or DebeziumKind.DecimalString or DebeziumKind.MoneyString:
                w.WriteStringValue(Unavailable);
                break;
            case DebeziumKind.Hstore:
                w.WriteStringValue("{\"__debezium_unavailable_value\":\"__debezium_unavailable_value\"}"u8);
                break;
            case DebeziumKind.Bytes or DebeziumKind.Bits:
                w.WriteBase64StringValue(Unavailable);
                break;
            case DebeziumKind.Array:
                w.WriteStartArray();
                switch (field.Element!.Kind)
                {
                    case DebeziumKind.Integer:
                        // Debezium's placeholder for integer arrays is the placeholder's bytes as numbers.
                        foreach (var b in Unavailable)
                            w.WriteNumberValue(b);
                        break;
                    case DebeziumKind.Bytes:
                        w.WriteBase64StringValue(Unavailable);
                        break;
                    default:
                        w.WriteStringValue(Unavailable);
                        break;
                }

                w.WriteEndArray();
                break;
            default:
                w.WriteNullValue();
                break;
        }
    }

    // Non-finite values: Jackson writes them as the strings Java prints, which PostgreSQL prints too.
    private static void WriteFloat(Utf8JsonWriter w, ReadOnlySpan<byte> text)
    {
        if (IsNonFinite(text))
            w.WriteStringValue(text);
        else
            w.WriteRawValue(text, skipInputValidation: true);
    }

    // Microseconds after 294247-01-10T04:00:54.775807 do not fit an int64 field: the largest value stands for them, as near as it gets.
    private static long Saturated(Int128 micros) => micros > long.MaxValue ? long.MaxValue : micros < long.MinValue ? long.MinValue : (long)micros;

    private static Int128 FloorDiv(Int128 value, Int128 divisor)
    {
        var (quotient, remainder) = Int128.DivRem(value, divisor);
        return remainder < 0 ? quotient - 1 : quotient;
    }

    private static bool IsNonFinite(ReadOnlySpan<byte> text) =>
        text.SequenceEqual("NaN"u8) || text.SequenceEqual("Infinity"u8) || text.SequenceEqual("-Infinity"u8);

    private static void WriteDouble(Utf8JsonWriter w, ReadOnlySpan<byte> text)
    {
        if (IsNonFinite(text))
        {
            w.WriteStringValue(text);
        }
        else if (Utf8Parser.TryParse(text, out double value, out var used) && used == text.Length)
        {
            // Numerics beyond double range become Infinity, as BigDecimal.doubleValue does.
            if (double.IsFinite(value))
                w.WriteNumberValue(value);
            else
                w.WriteStringValue(value > 0 ? "Infinity"u8 : "-Infinity"u8);
        }
        else
        {
            w.WriteStringValue(text);
        }
    }

    private static void WriteVariableScale(Utf8JsonWriter w, ReadOnlySpan<byte> text)
    {
        if (IsNonFinite(text))
        {
            w.WriteNullValue();
            return;
        }

        // Field order as the VariableScaleDecimal schema declares it: scale, then value.
        w.WriteStartObject();
        w.WriteNumber("scale"u8, ScaleOf(text));
        w.WritePropertyName("value"u8);
        DebeziumDecimal.TryWriteUnscaled(w, text, stripTrailingZeros: true, out _);
        w.WriteEndObject();
    }

    // Fraction digits left after BigDecimal.stripTrailingZeros (a negative scale is set back to 0).
    private static int ScaleOf(ReadOnlySpan<byte> text)
    {
        var point = text.IndexOf((byte)'.');
        return point < 0 ? 0 : text[(point + 1)..].TrimEnd((byte)'0').Length;
    }

    private static void WriteMoney(Utf8JsonWriter w, DebeziumKind kind, ReadOnlySpan<byte> text)
    {
        Span<byte> plain = stackalloc byte[TimeBufferSize];
        if (text.Length > TimeBufferSize)
        {
            w.WriteStringValue(text);
            return;
        }

        var value = plain[..DebeziumDecimal.CleanMoney(text, plain)];
        switch (kind)
        {
            case DebeziumKind.MoneyString:
                w.WriteStringValue(value);
                break;
            case DebeziumKind.MoneyDouble:
                WriteDouble(w, value);
                break;
            default:
                if (!DebeziumDecimal.TryWriteUnscaled(w, value, stripTrailingZeros: false, out _))
                    w.WriteStringValue(text);
                break;
        }
    }

    private static void WriteZonedTimestamp(Utf8JsonWriter w, DebeziumField field, ReadOnlySpan<byte> text)
    {
        // Debezium passes ±infinity through as PostgreSQL's own words.
        Span<byte> buffer = stackalloc byte[TimeBufferSize];
        if (text.Length <= TimeBufferSize && DebeziumTime.TryParseTimestampTz(text, out var micros))
            w.WriteStringValue(buffer[..DebeziumTime.FormatTimestamp(micros, field.Scale, buffer)]);
        else
            w.WriteStringValue(text);
    }

    private static void WriteBytea(Utf8JsonWriter w, ReadOnlySpan<byte> text)
    {
        if (text.Length < 2 || text[0] != (byte)'\\' || text[1] != (byte)'x' || (text.Length & 1) != 0)
        {
            w.WriteStringValue(text);
            return;
        }

        var length = (text.Length - 2) / 2;
        byte[]? rented = null;
        var bytes = length <= StackBytes ? stackalloc byte[StackBytes] : (rented = ArrayPool<byte>.Shared.Rent(length));
        try
        {
            for (var i = 0; i < length; i++)
            {
                var hi = HexValue(text[2 + (2 * i)]);
                var lo = HexValue(text[3 + (2 * i)]);
                if ((hi | lo) < 0)
                {
                    w.WriteStringValue(text);
                    return;
                }

                bytes[i] = (byte)((hi << 4) | lo);
            }

            w.WriteBase64StringValue(bytes[..length]);
        }
        finally
        {
            if (rented is not null)
                ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private static int HexValue(byte c) => c switch
    {
        >= (byte)'0' and <= (byte)'9' => c - '0',
        >= (byte)'a' and <= (byte)'f' => c - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => c - 'A' + 10,
        _ => -1,
    };

    // java.util.BitSet.toByteArray of the bit string read right to left: bit i of the value is text[^(i + 1)],
    // little-endian, with trailing zero bytes dropped (Debezium sizes the bytes by the highest set bit).
    private static void WriteBits(Utf8JsonWriter w, ReadOnlySpan<byte> text)
    {
        var highest = text.IndexOf((byte)'1');
        var byteCount = highest < 0 ? 0 : ((text.Length - highest - 1) / 8) + 1;
        byte[]? rented = null;
        var bytes = byteCount <= StackBytes ? stackalloc byte[StackBytes] : (rented = ArrayPool<byte>.Shared.Rent(byteCount));
        try
        {
            bytes[..byteCount].Clear();
            for (var i = 0; i < text.Length; i++)
            {
                if (text[text.Length - 1 - i] == (byte)'1')
                    bytes[i / 8] |= (byte)(1 << (i % 8));
            }

            w.WriteBase64StringValue(bytes[..byteCount]);
        }
        finally
        {
            if (rented is not null)
                ArrayPool<byte>.Shared.Return(rented);
        }
    }

    // "(x,y)" to io.debezium.data.geometry.Point: x, y and the OGC WKB of the point (little-endian, type 1), no SRID.
    private static void WritePoint(Utf8JsonWriter w, ReadOnlySpan<byte> text)
    {
        var comma = text.IndexOf((byte)',');
        if (text.Length < 5 || text[0] != (byte)'(' || text[^1] != (byte)')' || comma < 0
            || !Utf8Parser.TryParse(text[1..comma], out double x, out var xLength) || xLength != comma - 1
            || !Utf8Parser.TryParse(text[(comma + 1)..^1], out double y, out var yLength) || yLength != text.Length - comma - 2)
        {
            w.WriteStringValue(text);
            return;
        }

        Span<byte> wkb = stackalloc byte[21];
        wkb[0] = 1;
        BinaryPrimitives.WriteInt32LittleEndian(wkb[1..], 1);
        BinaryPrimitives.WriteInt64LittleEndian(wkb[5..], JavaDoubleBits(x));
        BinaryPrimitives.WriteInt64LittleEndian(wkb[13..], JavaDoubleBits(y));
        w.WriteStartObject();
        WriteCoordinate(w, "x"u8, x);
        WriteCoordinate(w, "y"u8, y);
        w.WriteBase64String("wkb"u8, wkb);
        w.WriteNull("srid"u8);
        w.WriteEndObject();
    }

    // .NET's NaN has the sign bit set; Java (Debezium) writes the canonical NaN, 0x7ff8000000000000.
    private static long JavaDoubleBits(double value) => double.IsNaN(value) ? 0x7FF8_0000_0000_0000 : BitConverter.DoubleToInt64Bits(value);

    // PostgreSQL accepts NaN and ±Infinity coordinates; JSON numbers cannot hold them, so they are strings, as for float columns.
    private static void WriteCoordinate(Utf8JsonWriter w, ReadOnlySpan<byte> name, double value)
    {
        if (double.IsFinite(value))
            w.WriteNumber(name, value);
        else
            w.WriteString(name, double.IsNaN(value) ? "NaN"u8 : value > 0 ? "Infinity"u8 : "-Infinity"u8);
    }

    private void WriteHstore(Utf8JsonWriter w, ReadOnlySpan<byte> text)
    {
        _scratch.ResetWrittenCount();
        if (_scratchWriter is null)
            _scratchWriter = new Utf8JsonWriter(_scratch, DebeziumSerializer.WriterOptions);
        else
            _scratchWriter.Reset(_scratch);

        PgTextParser.WriteHstore(_scratchWriter, text);
        _scratchWriter.Flush();
        w.WriteStringValue(_scratch.WrittenSpan);
    }
}
