namespace PgReplicateKafka.Pipeline.Snapshot;

/// <summary>
/// The xids of the last <see cref="Capacity"/> streamed transactions that carried changes, in stream
/// (commit) order. PostgreSQL writes a commit record before snapshots show the transaction (it flushes
/// the WAL, marks the commit log and may wait for a synchronous standby in between), so a chunk read just
/// after its low watermark can miss a transaction the stream carried before that watermark; its READ
/// events would then bring back an older row state. The coordinator finds such a transaction here.
/// </summary>
/// <remarks>Not thread-safe: the pump alone records and asks.</remarks>
internal sealed class RecentTransactions
{
    public const int Capacity = 65_536;

    private readonly uint[] _xids = new uint[Capacity];
    private long _count;
    private uint _last;

    /// <summary>How many transactions were recorded so far: a position in the stream.</summary>
    public long Position => _count;

    /// <summary>Records the transaction of a streamed change (once per transaction).</summary>
    public void Record(uint xid)
    {
        if (_count > 0 && xid == _last)
            return;
        _xids[_count % Capacity] = xid;
        _count++;
        _last = xid;
    }

    /// <summary>
    /// Whether a transaction recorded before <paramref name="position"/> (and still held here) is one that
    /// <paramref name="visible"/> says the read did not see.
    /// </summary>
    public bool AnyUnseenBefore(long position, Func<uint, bool> visible)
    {
        for (var i = Math.Max(0, _count - Capacity); i < position; i++)
        {
            if (!visible(_xids[i % Capacity]))
                return true;
        }

        return false;
    }
}
