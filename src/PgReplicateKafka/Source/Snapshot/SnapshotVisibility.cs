using System.Globalization;

namespace PgReplicateKafka.Source.Snapshot;

/// <summary>
/// Which transactions a chunk's read saw: PostgreSQL's snapshot (<c>txid_current_snapshot()</c>,
/// <c>xmin:xmax:xip,…</c>), compared on 32-bit xids as pgoutput sends them.
/// </summary>
public sealed class SnapshotVisibility
{
    private readonly uint _xmin;
    private readonly uint _xmax;
    private readonly HashSet<uint> _running;

    private SnapshotVisibility(uint xmin, uint xmax, HashSet<uint> running)
    {
        _xmin = xmin;
        _xmax = xmax;
        _running = running;
    }

    /// <summary>Parses <c>txid_current_snapshot()</c>'s text form, e.g. <c>10:20:10,14,15</c> (epochs are dropped).</summary>
    public static SnapshotVisibility Parse(string text)
    {
        var parts = text.Split(':');
        if (parts.Length != 3)
            throw new FormatException($"not a txid snapshot: {text}");
        var running = new HashSet<uint>();
        foreach (var xid in parts[2].Split(',', StringSplitOptions.RemoveEmptyEntries))
            running.Add(Xid(xid));
        return new SnapshotVisibility(Xid(parts[0]), Xid(parts[1]), running);
    }

    /// <summary>The committed transaction <paramref name="xid"/> was visible to the read.</summary>
    public bool Sees(uint xid) => Precedes(xid, _xmin) || (Precedes(xid, _xmax) && !_running.Contains(xid));

    // Modulo-2^32 order, as PostgreSQL compares xids: valid for xids within 2^31 of each other.
    private static bool Precedes(uint a, uint b) => (int)(a - b) < 0;

    private static uint Xid(string text) => (uint)(ulong.Parse(text, CultureInfo.InvariantCulture) & uint.MaxValue);
}
