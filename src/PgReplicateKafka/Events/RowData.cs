using System.Buffers;
using System.Runtime.CompilerServices;

namespace PgReplicateKafka.Events;

public enum ValueKind : byte
{
    Null,

    /// <summary>An unchanged TOASTed value that PostgreSQL did not resend.</summary>
    UnchangedToast,
    Text,
}

/// <summary>
/// The column values of one tuple, copied off the replication stream into one pooled buffer.
/// Npgsql's tuple is only readable while its message is current, and the receive loop must not
/// wait for JSON conversion, so the bytes are copied and converted later by the sink.
/// </summary>
public sealed class RowData
{
    // A value's length, or what stands in its place.
    private const int NullLength = -1;
    private const int UnchangedToastLength = -2;

    private byte[] _buffer;
    private int _used;

    // Per column its offset (at 2 × column) and its length or NullLength or UnchangedToastLength (at 2 × column + 1):
    // one rented array, not one each for offsets, lengths and kinds. A snapshot holds thousands of rows at once,
    // more than the shared pool keeps, so there each rental is an allocation (docs/benchmarks.md, optimisation 18).
    private readonly int[] _slots;

    // Runs per change: compiled optimized at its first call, not after seconds of tier 0 (see EventPump).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public RowData(int columnCount, int expectedBytes)
    {
        ColumnCount = columnCount;
        _slots = ArrayPool<int>.Shared.Rent(2 * columnCount);
        _buffer = Allocate(Math.Max(expectedBytes, 256));
    }

    public int ColumnCount { get; }

    /// <summary>Bytes of value data held; used for in-flight accounting.</summary>
    public int ByteSize => _used;

    public ValueKind Kind(int column) => _slots[2 * column + 1] switch
    {
        NullLength => ValueKind.Null,
        UnchangedToastLength => ValueKind.UnchangedToast,
        _ => ValueKind.Text,
    };

    /// <summary>A text value's bytes; empty for a null or unchanged TOASTed value.</summary>
    public ReadOnlySpan<byte> Value(int column)
    {
        var length = _slots[2 * column + 1];
        return length > 0 ? _buffer.AsSpan(_slots[2 * column], length) : default;
    }

    public void SetNull(int column) => _slots[2 * column + 1] = NullLength;

    public void SetUnchangedToast(int column) => _slots[2 * column + 1] = UnchangedToastLength;

    /// <summary>Reserves room for a text value of <paramref name="length"/> bytes and returns it to be filled.</summary>
    public Memory<byte> ReserveText(int column, int length)
    {
        if (_used + length > _buffer.Length)
        {
            var bigger = Allocate(Math.Max(_buffer.Length * 2, _used + length));
            _buffer.AsSpan(0, _used).CopyTo(bigger);
            Free(_buffer);
            _buffer = bigger;
        }

        var offset = _used;
        _slots[2 * column] = offset;
        _slots[2 * column + 1] = length;
        _used += length;
        return _buffer.AsMemory(offset, length);
    }

    // The shared pool keeps up to eight arrays per size and core: fine for rows of kilobytes, but
    // rows of megabytes would keep tens of megabytes alive there, so those are left to the GC.
    private const int LargestPooled = 1 << 20;

    private static byte[] Allocate(int size) => size <= LargestPooled ? ArrayPool<byte>.Shared.Rent(size) : new byte[size];

    private static void Free(byte[] buffer)
    {
        if (buffer.Length <= LargestPooled)
            ArrayPool<byte>.Shared.Return(buffer);
    }

    public void Release()
    {
        Free(_buffer);
        ArrayPool<int>.Shared.Return(_slots);
        _buffer = [];
    }
}
