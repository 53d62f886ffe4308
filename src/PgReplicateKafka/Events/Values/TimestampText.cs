using System.Buffers;
using System.Buffers.Text;
using System.Runtime.CompilerServices;

namespace PgReplicateKafka.Events.Values;

/// <summary>Rewrites PostgreSQL's ISO timestamptz output as an ISO-8601 UTC timestamp.</summary>
internal static class TimestampText
{
    private const int SecondsPerDay = 86_400;
    private static readonly StandardFormat TwoDigits = new('D', 2);
    private static readonly StandardFormat FourDigits = new('D', 4);

    /// <summary>
    /// "YYYY-MM-DD HH:MM:SS[.f](+|-)HH[:MM[:SS]][ BC]" to "YYYY-MM-DDTHH:MM:SS[.f]Z[ BC]" in UTC.
    /// Offsets other than +00 (a server not honouring the pinned TimeZone, or LMT offsets like +05:53:28)
    /// are subtracted, carrying into the date across month, year and era boundaries.
    /// </summary>
    // Runs per change: compiled optimized at its first call, not after seconds of tier 0 (see EventPump).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static bool TryFormatUtc(ReadOnlySpan<byte> text, Span<byte> destination, out int written)
    {
        written = 0;
        var bc = text.EndsWith(" BC"u8);
        if (bc)
        {
            text = text[..^3];
        }

        var space = text.IndexOf((byte)' ');
        if (space < 0)
        {
            return false;
        }

        var date = text[..space];
        var rest = text[(space + 1)..];
        var sign = rest.LastIndexOfAny((byte)'+', (byte)'-');
        if (sign < 8 || !TryParseOffset(rest[sign..], out var offsetSeconds))
        {
            return false;
        }

        var time = rest[..sign];
        if (offsetSeconds == 0)
        {
            return Append(destination, ref written, date)
                && Append(destination, ref written, "T"u8)
                && Append(destination, ref written, time)
                && Append(destination, ref written, "Z"u8)
                && (!bc || Append(destination, ref written, " BC"u8));
        }

        var dash = date.IndexOf((byte)'-');
        if (dash < 4 || date.Length != dash + 6 || date[dash + 3] != (byte)'-'
            || !Utf8Parser.TryParse(date[..dash], out int year, out var yearLength) || yearLength != dash
            || !TryTwoDigits(date[(dash + 1)..], out var month) || !TryTwoDigits(date[(dash + 4)..], out var day)
            || time.Length < 8 || time[2] != (byte)':' || time[5] != (byte)':'
            || !TryTwoDigits(time, out var hour) || !TryTwoDigits(time[3..], out var minute) || !TryTwoDigits(time[6..], out var second)
            || month is < 1 or > 12)
        {
            return false;
        }

        var fraction = time[8..];
        var seconds = (hour * 3600) + (minute * 60) + second - offsetSeconds;

        // Astronomical numbering (1 BC = year 0) makes leap years and era crossings plain arithmetic.
        var astronomicalYear = bc ? 1 - year : year;
        if (seconds < 0)
        {
            seconds += SecondsPerDay;
            if (--day == 0)
            {
                if (--month == 0)
                {
                    month = 12;
                    astronomicalYear--;
                }

                day = DaysInMonth(astronomicalYear, month);
            }
        }
        else if (seconds >= SecondsPerDay)
        {
            seconds -= SecondsPerDay;
            if (++day > DaysInMonth(astronomicalYear, month))
            {
                day = 1;
                if (++month == 13)
                {
                    month = 1;
                    astronomicalYear++;
                }
            }
        }

        var outBc = astronomicalYear <= 0;
        return Format(destination, ref written, outBc ? 1 - astronomicalYear : astronomicalYear, FourDigits)
            && Append(destination, ref written, "-"u8)
            && Format(destination, ref written, month, TwoDigits)
            && Append(destination, ref written, "-"u8)
            && Format(destination, ref written, day, TwoDigits)
            && Append(destination, ref written, "T"u8)
            && Format(destination, ref written, seconds / 3600, TwoDigits)
            && Append(destination, ref written, ":"u8)
            && Format(destination, ref written, seconds / 60 % 60, TwoDigits)
            && Append(destination, ref written, ":"u8)
            && Format(destination, ref written, seconds % 60, TwoDigits)
            && Append(destination, ref written, fraction)
            && Append(destination, ref written, "Z"u8)
            && (!outBc || Append(destination, ref written, " BC"u8));
    }

    // "+HH", "+HH:MM" or "+HH:MM:SS" in seconds east of UTC.
    private static bool TryParseOffset(ReadOnlySpan<byte> offset, out int seconds)
    {
        seconds = 0;
        if (offset.Length is not (3 or 6 or 9) || !TryTwoDigits(offset[1..], out var hours))
        {
            return false;
        }

        var minutes = 0;
        var secs = 0;
        if (offset.Length >= 6 && (offset[3] != (byte)':' || !TryTwoDigits(offset[4..], out minutes)))
        {
            return false;
        }

        if (offset.Length == 9 && (offset[6] != (byte)':' || !TryTwoDigits(offset[7..], out secs)))
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

    private static bool TryTwoDigits(ReadOnlySpan<byte> text, out int value)
    {
        value = 0;
        if (text.Length < 2 || !char.IsAsciiDigit((char)text[0]) || !char.IsAsciiDigit((char)text[1]))
        {
            return false;
        }

        value = ((text[0] - '0') * 10) + (text[1] - '0');
        return true;
    }

    private static int DaysInMonth(int astronomicalYear, int month) => month switch
    {
        2 => (astronomicalYear % 4 == 0 && astronomicalYear % 100 != 0) || astronomicalYear % 400 == 0 ? 29 : 28,
        4 or 6 or 9 or 11 => 30,
        _ => 31,
    };

    private static bool Append(Span<byte> destination, ref int written, ReadOnlySpan<byte> part)
    {
        if (!part.TryCopyTo(destination[written..]))
        {
            return false;
        }

        written += part.Length;
        return true;
    }

    private static bool Format(Span<byte> destination, ref int written, int value, StandardFormat format)
    {
        if (!Utf8Formatter.TryFormat(value, destination[written..], out var length, format))
        {
            return false;
        }

        written += length;
        return true;
    }
}
