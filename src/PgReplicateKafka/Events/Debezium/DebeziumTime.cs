// Longer than 300 lines: one parser and one formatter per temporal type, kept together because they share the calendar arithmetic.
using System.Buffers.Text;

namespace PgReplicateKafka.Events.Debezium;

/// <summary>
/// Parses PostgreSQL's ISO date/time output (DateStyle=ISO, IntervalStyle=iso_8601, TimeZone=UTC) into the
/// numbers Debezium emits, and formats its ISO-8601 strings. Calendar arithmetic is proleptic Gregorian with
/// astronomical years (1 BC = year 0), as java.time does, so BC and five-digit years convert too.
/// </summary>
internal static class DebeziumTime
{
    internal const long MicrosPerDay = 86_400_000_000;

    // PGStatement.DATE_POSITIVE_INFINITY / DATE_NEGATIVE_INFINITY, which Debezium reads as epoch microseconds.
    internal const long PositiveInfinityMicros = 9_223_372_036_825_200_000;
    internal const long NegativeInfinityMicros = -9_223_372_036_832_400_000;

    // Debezium maps infinite dates to these LocalDates (-5877611-06-21 / -22) and emits their epoch day.
    internal static readonly int PositiveInfinityDays = (int)DaysFromCivil(-5_877_611, 6, 21);
    internal static readonly int NegativeInfinityDays = (int)DaysFromCivil(-5_877_611, 6, 22);

    /// <summary>"YYYY-MM-DD[ BC]" (or infinity) to days since 1970-01-01.</summary>
    public static bool TryParseDate(ReadOnlySpan<byte> text, out int days)
    {
        days = 0;
        if (text.SequenceEqual("infinity"u8))
        {
            days = PositiveInfinityDays;
            return true;
        }

        if (text.SequenceEqual("-infinity"u8))
        {
            days = NegativeInfinityDays;
            return true;
        }

        var bc = StripBc(ref text);
        if (!TryParseDateCore(text, bc, out var epochDays))
        {
            return false;
        }

        days = (int)epochDays;
        return true;
    }

    /// <summary>"HH:MM:SS[.ffffff]" to microseconds past midnight; PostgreSQL allows 24:00:00.</summary>
    public static bool TryParseTime(ReadOnlySpan<byte> text, out long micros)
    {
        micros = 0;
        if (text.Length < 8 || text[2] != (byte)':' || text[5] != (byte)':'
            || !TryDigits(text[..2], out var hour) || !TryDigits(text.Slice(3, 2), out var minute) || !TryDigits(text.Slice(6, 2), out var second)
            || !TryFraction(text[8..], out var fraction))
        {
            return false;
        }

        micros = (((hour * 60L) + minute) * 60 + second) * 1_000_000 + fraction;
        return true;
    }

    /// <summary>
    /// timestamp output "YYYY-MM-DD HH:MM:SS[.f][ BC]" (or ±infinity) to microseconds since the epoch. 128 bits: PostgreSQL's
    /// range ends in 294276, after int64 microseconds do (294247); the caller decides what an int64 field gets.
    /// </summary>
    public static bool TryParseTimestamp(ReadOnlySpan<byte> text, out Int128 micros)
    {
        if (TryInfinity(text, out var infinity))
        {
            micros = infinity;
            return true;
        }

        micros = 0;

        var bc = StripBc(ref text);
        var space = text.IndexOf((byte)' ');
        if (space < 0 || !TryParseDateCore(text[..space], bc, out var days) || !TryParseTime(text[(space + 1)..], out var time))
        {
            return false;
        }

        micros = ((Int128)days * MicrosPerDay) + time;
        return true;
    }

    /// <summary>timestamptz output "YYYY-MM-DD HH:MM:SS[.f]±HH[:MM[:SS]][ BC]" to UTC microseconds since the epoch (128 bits, as timestamp).</summary>
    public static bool TryParseTimestampTz(ReadOnlySpan<byte> text, out Int128 micros)
    {
        micros = 0;
        var bc = StripBc(ref text);
        var space = text.IndexOf((byte)' ');
        if (space < 0)
        {
            return false;
        }

        var clock = text[(space + 1)..];
        var sign = clock.LastIndexOfAny((byte)'+', (byte)'-');
        if (sign < 8 || !TryParseOffset(clock[sign..], out var offsetSeconds)
            || !TryParseDateCore(text[..space], bc, out var days) || !TryParseTime(clock[..sign], out var time))
        {
            return false;
        }

        micros = ((Int128)days * MicrosPerDay) + time - (offsetSeconds * 1_000_000L);
        return true;
    }

    /// <summary>
    /// Writes <paramref name="micros"/> as java.time's ISO_OFFSET_DATE_TIME in UTC ("2018-06-20T13:13:16.945104Z").
    /// <paramref name="fractionDigits"/> 1-6 prints exactly that many digits (Debezium's column-precision formatter);
    /// 0 prints as few as needed (none for whole seconds), as java.time's ISO formatter does.
    /// </summary>
    public static int FormatTimestamp(Int128 micros, int fractionDigits, Span<byte> destination)
    {
        var (quotient, remainder) = Int128.DivRem(micros, MicrosPerDay);
        var days = (long)quotient;
        var ofDay = (long)remainder;
        if (ofDay < 0)
        {
            ofDay += MicrosPerDay;
            days--;
        }

        CivilFromDays(days, out var year, out var month, out var day);
        var pos = 0;
        if (year > 9999)
        {
            destination[pos++] = (byte)'+';
        }
        else if (year < 0)
        {
            destination[pos++] = (byte)'-';
        }

        pos += Write(Math.Abs(year), 4, destination[pos..]);
        destination[pos++] = (byte)'-';
        pos += Write(month, 2, destination[pos..]);
        destination[pos++] = (byte)'-';
        pos += Write(day, 2, destination[pos..]);
        destination[pos++] = (byte)'T';
        pos += FormatClock(ofDay, fractionDigits, destination[pos..]);
        destination[pos++] = (byte)'Z';
        return pos;
    }

    /// <summary>timetz output "HH:MM:SS[.f]±HH[:MM[:SS]]" shifted to UTC as ISO_OFFSET_TIME ("18:30:00Z").</summary>
    public static bool TryFormatTimeTz(ReadOnlySpan<byte> text, Span<byte> destination, out int written)
    {
        written = 0;
        var sign = text.LastIndexOfAny((byte)'+', (byte)'-');
        if (sign < 8 || !TryParseOffset(text[sign..], out var offsetSeconds) || !TryParseTime(text[..sign], out var time))
        {
            return false;
        }

        if (time == MicrosPerDay && offsetSeconds == 0)
        {
            // java.time cannot hold 24:00; Debezium special-cases the end-of-day boundary at UTC.
            "24:00:00Z"u8.CopyTo(destination);
            written = 9;
            return true;
        }

        var utc = (time - (offsetSeconds * 1_000_000L)) % MicrosPerDay;
        if (utc < 0)
        {
            utc += MicrosPerDay;
        }

        written = FormatClock(utc, 0, destination);
        destination[written++] = (byte)'Z';
        return true;
    }

    /// <summary>
    /// IntervalStyle=iso_8601 output ("P1Y2M3DT4H5M6.5S", components may be negative) to io.debezium.time.MicroDuration:
    /// months count 365.25/12 days, computed in doubles in Debezium's order so the result matches to the microsecond.
    /// </summary>
    public static bool TryParseIntervalMicros(ReadOnlySpan<byte> text, out long micros)
    {
        micros = 0;
        if (text.Length < 2 || text[0] != (byte)'P')
        {
            return false;
        }

        // 64 bits: an interval's time part reaches 2562047788 hours.
        long years = 0, months = 0, days = 0, hours = 0, minutes = 0;
        double seconds = 0;
        var timePart = false;
        var pos = 1;
        while (pos < text.Length)
        {
            if (text[pos] == (byte)'T')
            {
                timePart = true;
                pos++;
                continue;
            }

            var start = pos;
            while (pos < text.Length && (char.IsAsciiDigit((char)text[pos]) || text[pos] is (byte)'-' or (byte)'.'))
            {
                pos++;
            }

            if (pos == start || pos >= text.Length)
            {
                return false;
            }

            var number = text[start..pos];
            var unit = text[pos++];
            if (unit == (byte)'S' && timePart)
            {
                if (!Utf8Parser.TryParse(number, out double value, out var used) || used != number.Length)
                {
                    return false;
                }

                // PGInterval rounds to whole microseconds (Java's Math.round), keeps whole seconds and
                // microseconds apart and adds them back as a double.
                var total = (long)Math.Floor((value * 1e6) + 0.5);
                seconds = (total / 1_000_000) + ((double)(total % 1_000_000) / 1e6);
                continue;
            }

            if (!Utf8Parser.TryParse(number, out long count, out var length) || length != number.Length)
            {
                return false;
            }

            switch ((char)unit, timePart)
            {
                case ('Y', false):
                    years = count;
                    break;
                case ('M', false):
                    months = count;
                    break;
                case ('D', false):
                    days = count;
                    break;
                case ('H', true):
                    hours = count;
                    break;
                case ('M', true):
                    minutes = count;
                    break;
                default:
                    return false;
            }
        }

        const double DaysPerMonth = 365.25 / 12.0d;
        var numberOfDays = (((years * 12) + months) * DaysPerMonth) + days;
        var numberOfSeconds = (((((numberOfDays * 24) + hours) * 60) + minutes) * 60) + seconds;
        micros = (long)(numberOfSeconds * 1e6);
        return true;
    }

    /// <summary>Days since 1970-01-01 of a proleptic Gregorian date in astronomical years (H. Hinnant's algorithm).</summary>
    internal static long DaysFromCivil(long year, int month, int day)
    {
        year -= month <= 2 ? 1 : 0;
        var era = (year >= 0 ? year : year - 399) / 400;
        var yearOfEra = year - (era * 400);
        var dayOfYear = ((153 * (month + (month > 2 ? -3 : 9))) + 2) / 5 + day - 1;
        var dayOfEra = (yearOfEra * 365) + (yearOfEra / 4) - (yearOfEra / 100) + dayOfYear;
        return (era * 146_097) + dayOfEra - 719_468;
    }

    private static void CivilFromDays(long days, out long year, out int month, out int day)
    {
        days += 719_468;
        var era = (days >= 0 ? days : days - 146_096) / 146_097;
        var dayOfEra = days - (era * 146_097);
        var yearOfEra = (dayOfEra - (dayOfEra / 1460) + (dayOfEra / 36_524) - (dayOfEra / 146_096)) / 365;
        var dayOfYear = dayOfEra - ((365 * yearOfEra) + (yearOfEra / 4) - (yearOfEra / 100));
        var mp = ((5 * dayOfYear) + 2) / 153;
        day = (int)(dayOfYear - (((153 * mp) + 2) / 5) + 1);
        month = (int)(mp < 10 ? mp + 3 : mp - 9);
        year = yearOfEra + (era * 400) + (month <= 2 ? 1 : 0);
    }

    private static bool TryInfinity(ReadOnlySpan<byte> text, out long micros)
    {
        micros = text.SequenceEqual("infinity"u8) ? PositiveInfinityMicros : text.SequenceEqual("-infinity"u8) ? NegativeInfinityMicros : 0;
        return micros != 0;
    }

    private static bool StripBc(ref ReadOnlySpan<byte> text)
    {
        if (!text.EndsWith(" BC"u8))
        {
            return false;
        }

        text = text[..^3];
        return true;
    }

    private static bool TryParseDateCore(ReadOnlySpan<byte> text, bool bc, out long days)
    {
        days = 0;
        var dash = text.IndexOf((byte)'-');
        if (dash < 4 || text.Length != dash + 6 || text[dash + 3] != (byte)'-'
            || !Utf8Parser.TryParse(text[..dash], out long year, out var yearLength) || yearLength != dash
            || !TryDigits(text.Slice(dash + 1, 2), out var month) || !TryDigits(text.Slice(dash + 4, 2), out var day)
            || month is < 1 or > 12)
        {
            return false;
        }

        days = DaysFromCivil(bc ? 1 - year : year, month, day);
        return true;
    }

    // "+HH", "+HH:MM" or "+HH:MM:SS" in seconds east of UTC.
    private static bool TryParseOffset(ReadOnlySpan<byte> offset, out int seconds)
    {
        seconds = 0;
        if (offset.Length is not (3 or 6 or 9) || !TryDigits(offset.Slice(1, 2), out var hours))
        {
            return false;
        }

        var minutes = 0;
        var secs = 0;
        if ((offset.Length >= 6 && (offset[3] != (byte)':' || !TryDigits(offset.Slice(4, 2), out minutes)))
            || (offset.Length == 9 && (offset[6] != (byte)':' || !TryDigits(offset.Slice(7, 2), out secs))))
        {
            return false;
        }

        seconds = (hours * 3600) + (minutes * 60) + secs;
        if (offset[0] == (byte)'-')
        {
            seconds = -seconds;
        }

        return true;
    }

    // ".ffffff" (1-6 digits) or nothing, as microseconds.
    private static bool TryFraction(ReadOnlySpan<byte> text, out int micros)
    {
        micros = 0;
        if (text.IsEmpty)
        {
            return true;
        }

        if (text[0] != (byte)'.' || text.Length is < 2 or > 7)
        {
            return false;
        }

        for (var i = 1; i < 7; i++)
        {
            var digit = i < text.Length ? text[i] - '0' : 0;
            if (digit is < 0 or > 9)
            {
                return false;
            }

            micros = (micros * 10) + digit;
        }

        return true;
    }

    private static bool TryDigits(ReadOnlySpan<byte> text, out int value)
    {
        value = 0;
        foreach (var c in text)
        {
            if (!char.IsAsciiDigit((char)c))
            {
                return false;
            }

            value = (value * 10) + (c - '0');
        }

        return true;
    }

    // "HH:MM:SS" plus the fraction: fixed width for 1-6 digits; otherwise as few digits as needed.
    private static int FormatClock(long microsOfDay, int fractionDigits, Span<byte> destination)
    {
        var seconds = microsOfDay / 1_000_000;
        var fraction = (int)(microsOfDay % 1_000_000);
        var pos = Write(seconds / 3600, 2, destination);
        destination[pos++] = (byte)':';
        pos += Write(seconds / 60 % 60, 2, destination[pos..]);
        destination[pos++] = (byte)':';
        pos += Write(seconds % 60, 2, destination[pos..]);
        var digits = fractionDigits;
        if (digits <= 0)
        {
            digits = 6;
            while (digits > 0 && fraction % 10 == 0)
            {
                fraction /= 10;
                digits--;
            }
        }
        else
        {
            for (var i = digits; i < 6; i++)
            {
                fraction /= 10;
            }
        }

        if (digits > 0)
        {
            destination[pos++] = (byte)'.';
            pos += Write(fraction, digits, destination[pos..]);
        }

        return pos;
    }

    private static int Write(long value, int digits, Span<byte> destination)
    {
        Utf8Formatter.TryFormat(value, destination, out var written, new System.Buffers.StandardFormat('D', (byte)digits));
        return written;
    }
}
