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
    private byte[] _buffer;
    private int _used;
    private readonly ValueKind[] _kinds;
    private readonly int[] _offsets;
    private readonly int[] _lengths;

    // Runs per change: compiled optimized at its first call, not after seconds of tier 0 (see EventPump).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public RowData(int columnCount, int expectedBytes)
    {
        ColumnCount = columnCount;
        _kinds = ArrayPool<ValueKind>.Shared.Rent(columnCount);
        _offsets = ArrayPool<int>.Shared.Rent(columnCount);
        _lengths = ArrayPool<int>.Shared.Rent(columnCount);
        _buffer = Allocate(Math.Max(expectedBytes, 256));
    }

    public int ColumnCount { get; }

    /// <summary>Bytes of value data held; used for in-flight accounting.</summary>
    public int ByteSize => _used;

    public ValueKind Kind(int column) => _kinds[column];

    public ReadOnlySpan<byte> Value(int column) => _buffer.AsSpan(_offsets[column], _lengths[column]);

    public void SetNull(int column) => _kinds[column] = ValueKind.Null;

    public void SetUnchangedToast(int column) => _kinds[column] = ValueKind.UnchangedToast;

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

        _kinds[column] = ValueKind.Text;
        _offsets[column] = _used;
        _lengths[column] = length;
        _used += length;
        return _buffer.AsMemory(_offsets[column], length);
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
        ArrayPool<ValueKind>.Shared.Return(_kinds);
        ArrayPool<int>.Shared.Return(_offsets);
        ArrayPool<int>.Shared.Return(_lengths);
        _buffer = [];
    }
}
