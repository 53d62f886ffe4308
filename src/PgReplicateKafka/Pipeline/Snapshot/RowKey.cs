using System.Buffers;
using System.Buffers.Binary;
using PgReplicateKafka.Events;

namespace PgReplicateKafka.Pipeline.Snapshot;

/// <summary>
/// A compact, comparable form of a row's message key (<see cref="TableInfo.KeyColumns"/>): per key
/// column a kind byte and, for a text value, its length (4 bytes) and bytes. Lengths keep
/// ("ab","c") and ("a","bc") apart without escaping; the kind keeps NULL apart from "".
/// </summary>
public static class RowKey
{
    private const byte NullValue = 0;
    private const byte TextValue = 1;

    /// <summary>An unchanged TOASTed key value whose text neither row supplies; it matches no chunk row.</summary>
    private const byte UnknownValue = 2;

    /// <summary>
    /// Writes the key of <paramref name="row"/> into <paramref name="output"/> (cleared first). As in
    /// the message key, an unchanged TOASTed value is taken from <paramref name="fallback"/> (the old row).
    /// </summary>
    public static void Write(TableInfo table, RowData row, RowData? fallback, ArrayBufferWriter<byte> output)
    {
        output.ResetWrittenCount();
        foreach (var column in table.KeyColumns)
        {
            var source = row.Kind(column) == ValueKind.UnchangedToast && fallback is not null ? fallback : row;
            switch (source.Kind(column))
            {
                case ValueKind.Text:
                    var value = source.Value(column);
                    var span = output.GetSpan(5 + value.Length);
                    span[0] = TextValue;
                    BinaryPrimitives.WriteInt32LittleEndian(span[1..], value.Length);
                    value.CopyTo(span[5..]);
                    output.Advance(5 + value.Length);
                    break;
                case ValueKind.Null:
                    output.GetSpan(1)[0] = NullValue;
                    output.Advance(1);
                    break;
                default:
                    output.GetSpan(1)[0] = UnknownValue;
                    output.Advance(1);
                    break;
            }
        }
    }
}

/// <summary>Byte-wise equality for keys, with lookups by span so probing a set allocates nothing.</summary>
public sealed class RowKeyComparer : IEqualityComparer<byte[]>, IAlternateEqualityComparer<ReadOnlySpan<byte>, byte[]>
{
    public static RowKeyComparer Instance { get; } = new();

    public bool Equals(byte[]? x, byte[]? y) => x is null ? y is null : y is not null && x.AsSpan().SequenceEqual(y);

    public int GetHashCode(byte[] key) => GetHashCode((ReadOnlySpan<byte>)key);

    public bool Equals(ReadOnlySpan<byte> alternate, byte[] other) => alternate.SequenceEqual(other);

    public int GetHashCode(ReadOnlySpan<byte> alternate)
    {
        var hash = new HashCode();
        hash.AddBytes(alternate);
        return hash.ToHashCode();
    }

    public byte[] Create(ReadOnlySpan<byte> alternate) => alternate.ToArray();
}
