using System.Globalization;

namespace PgReplicateKafka.Events;

/// <summary>WAL positions as PostgreSQL prints them ("16/B374D848"), without a dependency on the driver.</summary>
public static class Lsn
{
    public static string Format(ulong lsn) => $"{(uint)(lsn >> 32):X}/{(uint)lsn:X}";

    public static ulong Parse(string text)
    {
        var slash = text.IndexOf('/');
        if (slash <= 0
            || !uint.TryParse(text.AsSpan(0, slash), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var high)
            || !uint.TryParse(text.AsSpan(slash + 1), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var low))
        {
            throw new FormatException($"\"{text}\" is not a WAL position (expected hex/hex, e.g. 16/B374D848)");
        }

        return ((ulong)high << 32) | low;
    }
}
