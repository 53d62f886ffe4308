using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using PgReplicateKafka.Events;

namespace PgReplicateKafka.Operations.Verify;

/// <summary>
/// A 128-bit digest (SHA-256, truncated) of an <c>after</c> object: each column's index and raw JSON
/// value, in order. Raw JSON compares exactly because the table's rows are written by the same serializer
/// as the events. Columns an event leaves out (unchanged TOAST values: the native envelope omits them,
/// Debezium's writes its placeholder) are recorded in a column mask, so the table's row is digested over
/// the same columns only.
/// </summary>
public sealed class RowFingerprint : IDisposable
{
    /// <summary>The mask id of "every column of the table".</summary>
    public const int AllColumns = 0;

    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly byte[][] _names;
    private readonly List<ulong[]> _masks;
    private readonly ulong[] _scratch;
    private readonly byte[] _digest = new byte[32];
    private readonly byte[] _index = new byte[4];

    // Per column, the value an event holds for an unchanged TOASTed value (Debezium's placeholder); null when none.
    private readonly byte[]?[] _unavailable;

    /// <param name="table">The table as its events are written (a [[tables]] rule's projection).</param>
    /// <param name="unavailableRow">The <c>after</c> object of a row whose every value is an unchanged TOASTed one, as the envelope writes it.</param>
    public RowFingerprint(TableInfo table, ReadOnlySpan<byte> unavailableRow = default)
    {
        _names = new byte[table.Columns.Count][];
        for (var i = 0; i < _names.Length; i++)
            _names[i] = Encoding.UTF8.GetBytes(table.Columns[i].Name);
        _unavailable = new byte[_names.Length][];
        if (!unavailableRow.IsEmpty)
            ReadPlaceholders(unavailableRow);
        var words = (_names.Length + 63) / 64;
        var all = new ulong[words];
        for (var i = 0; i < _names.Length; i++)
            all[i / 64] |= 1UL << (i % 64);
        _masks = [all];
        _scratch = new ulong[words];
    }

    /// <summary>Digests an event's <c>after</c> object and returns the id of the columns it holds.</summary>
    public UInt128 OfEvent(ReadOnlySpan<byte> after, out int mask)
    {
        Array.Clear(_scratch);
        var digest = Digest(after, filter: null, _scratch);
        mask = MaskId(_scratch);
        return digest;
    }

    /// <summary>Digests a row's <c>after</c> object over the columns of mask <paramref name="mask"/> only.</summary>
    public UInt128 OfRow(ReadOnlySpan<byte> after, int mask) => Digest(after, _masks[mask], seen: null);

    /// <summary>128 bits of SHA-256 of <paramref name="bytes"/> (message keys).</summary>
    public static UInt128 OfBytes(ReadOnlySpan<byte> bytes)
    {
        Span<byte> digest = stackalloc byte[32];
        SHA256.HashData(bytes, digest);
        return BinaryPrimitives.ReadUInt128LittleEndian(digest);
    }

    private UInt128 Digest(ReadOnlySpan<byte> after, ulong[]? filter, ulong[]? seen)
    {
        var reader = new Utf8JsonReader(after);
        reader.Read(); // the object's start
        var expected = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var column = ColumnOf(ref reader, expected);
            var nameStart = (int)reader.TokenStartIndex;
            reader.Read();
            var start = (int)reader.TokenStartIndex;
            reader.Skip();
            var value = after[start..(int)reader.BytesConsumed];
            if (column < 0)
            {
                // Not a column of the table (dropped since?): digest the name too, so it never matches a row.
                BinaryPrimitives.WriteInt32LittleEndian(_index, -1);
                _hash.AppendData(_index);
                _hash.AppendData(after[nameStart..start]);
            }
            else
            {
                expected = column + 1;
                if (filter is not null && (filter[column / 64] & (1UL << (column % 64))) == 0)
                    continue;
                if (seen is not null && _unavailable[column] is { } placeholder && value.SequenceEqual(placeholder))
                    continue; // not sent: like a column the event leaves out
                if (seen is not null)
                    seen[column / 64] |= 1UL << (column % 64);
                BinaryPrimitives.WriteInt32LittleEndian(_index, column);
                _hash.AppendData(_index);
            }

            BinaryPrimitives.WriteInt32LittleEndian(_index, value.Length);
            _hash.AppendData(_index);
            _hash.AppendData(value);
        }

        _hash.GetHashAndReset(_digest);
        return BinaryPrimitives.ReadUInt128LittleEndian(_digest);
    }

    private void ReadPlaceholders(ReadOnlySpan<byte> row)
    {
        var reader = new Utf8JsonReader(row);
        reader.Read();
        var expected = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var column = ColumnOf(ref reader, expected);
            reader.Read();
            var start = (int)reader.TokenStartIndex;
            reader.Skip();
            // A null placeholder cannot be told from a null value: such columns are compared.
            if (column >= 0 && reader.TokenType != JsonTokenType.Null)
                _unavailable[column] = row[start..(int)reader.BytesConsumed].ToArray();
            expected = column + 1;
        }
    }

    /// <summary>The column a property names: the serializer writes them in table order, so the next one is tried first.</summary>
    private int ColumnOf(ref Utf8JsonReader reader, int expected)
    {
        if (expected < _names.Length && reader.ValueTextEquals(_names[expected]))
            return expected;
        for (var i = 0; i < _names.Length; i++)
        {
            if (reader.ValueTextEquals(_names[i]))
                return i;
        }

        return -1;
    }

    private int MaskId(ulong[] columns)
    {
        for (var id = 0; id < _masks.Count; id++)
        {
            if (columns.AsSpan().SequenceEqual(_masks[id]))
                return id;
        }

        _masks.Add((ulong[])columns.Clone());
        return _masks.Count - 1;
    }

    public void Dispose() => _hash.Dispose();
}
