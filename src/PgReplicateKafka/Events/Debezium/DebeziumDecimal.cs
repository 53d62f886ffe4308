using System.Buffers;
using System.Buffers.Binary;
using System.Numerics;
using System.Text.Json;

namespace PgReplicateKafka.Events.Debezium;

/// <summary>numeric and money text to the unscaled value Kafka Connect's Decimal carries.</summary>
internal static class DebeziumDecimal
{
    private const int StackBytes = 256;

    /// <summary>Writes base64 of the unscaled value as Java's BigInteger.toByteArray: minimal big-endian two's complement.</summary>
    /// <param name="stripTrailingZeros">VariableScaleDecimal strips trailing fraction zeros, as BigDecimal.stripTrailingZeros.</param>
    /// <returns>False for text that is not a plain decimal (NaN, Infinity).</returns>
    public static bool TryWriteUnscaled(Utf8JsonWriter writer, ReadOnlySpan<byte> text, bool stripTrailingZeros, out int scale)
    {
        scale = 0;
        var negative = text.Length > 0 && text[0] == (byte)'-';
        var body = negative ? text[1..] : text;
        var point = body.IndexOf((byte)'.');
        var integer = point < 0 ? body : body[..point];
        var fraction = point < 0 ? [] : body[(point + 1)..];
        if (stripTrailingZeros)
        {
            fraction = fraction.TrimEnd((byte)'0');
        }

        if (integer.IsEmpty && fraction.IsEmpty)
        {
            return false;
        }

        var digitCount = integer.Length + fraction.Length;
        char[]? rentedChars = null;
        var digits = digitCount <= StackBytes ? stackalloc char[StackBytes] : (rentedChars = ArrayPool<char>.Shared.Rent(digitCount));
        try
        {
            if (!CopyDigits(integer, digits) || !CopyDigits(fraction, digits[integer.Length..]))
            {
                return false;
            }

            scale = fraction.Length;
            WriteTwosComplement(writer, digits[..digitCount], negative);
            return true;
        }
        finally
        {
            if (rentedChars is not null)
            {
                ArrayPool<char>.Shared.Return(rentedChars);
            }
        }
    }

    private static bool CopyDigits(ReadOnlySpan<byte> text, Span<char> destination)
    {
        for (var i = 0; i < text.Length; i++)
        {
            if (!char.IsAsciiDigit((char)text[i]))
            {
                return false;
            }

            destination[i] = (char)text[i];
        }

        return true;
    }

    /// <summary>money output in lc_monetary=C ("-$1,234.56") as the plain decimal "-1234.56".</summary>
    public static int CleanMoney(ReadOnlySpan<byte> text, Span<byte> destination)
    {
        var n = 0;
        foreach (var c in text)
        {
            if (c is not ((byte)'$' or (byte)',' or (byte)' '))
            {
                destination[n++] = c;
            }
        }

        return n;
    }

    private static void WriteTwosComplement(Utf8JsonWriter writer, ReadOnlySpan<char> digits, bool negative)
    {
        Span<byte> small = stackalloc byte[8];
        if (digits.Length <= 18)
        {
            long value = 0;
            foreach (var c in digits)
            {
                value = (value * 10) + (c - '0');
            }

            if (negative)
            {
                value = -value;
            }

            BinaryPrimitives.WriteInt64BigEndian(small, value);
            writer.WriteBase64StringValue(small[(8 - MinimalLength(value))..]);
            return;
        }

        var big = BigInteger.Parse(digits, provider: System.Globalization.CultureInfo.InvariantCulture);
        if (negative)
        {
            big = -big;
        }

        var length = big.GetByteCount();
        var rented = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            big.TryWriteBytes(rented, out var written, isUnsigned: false, isBigEndian: true);
            writer.WriteBase64StringValue(rented.AsSpan(0, written));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    // Fewest bytes holding the value with its sign bit, at least one.
    private static int MinimalLength(long value)
    {
        var length = 8;
        while (length > 1)
        {
            var limit = 1L << ((8 * (length - 1)) - 1);
            if (value < -limit || value >= limit)
            {
                break;
            }

            length--;
        }

        return length;
    }
}
