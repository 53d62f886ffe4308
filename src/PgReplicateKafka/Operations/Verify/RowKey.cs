using System.Buffers;
using System.Text;
using System.Text.Json;
using PgReplicateKafka.Events;

namespace PgReplicateKafka.Operations.Verify;

/// <summary>
/// Rebuilds a message key from a row object (an UPDATE's <c>before</c>): <c>{"k1":v1,…}</c> of the key
/// columns, byte for byte as the serializer writes keys, so an update that changed the key can retire the old one.
/// </summary>
public sealed class RowKey(TableInfo table)
{
    private readonly byte[][] _names = Names(table);
    private readonly ArrayBufferWriter<byte> _buffer = new(256);
    private readonly int[] _starts = new int[table.KeyColumns.Length];
    private readonly int[] _ends = new int[table.KeyColumns.Length];

    /// <summary>The key of <paramref name="row"/>, or empty when the row lacks a key column; valid until the next call.</summary>
    public ReadOnlySpan<byte> Of(ReadOnlySpan<byte> row)
    {
        Array.Fill(_starts, -1);
        var reader = new Utf8JsonReader(row);
        reader.Read();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var key = -1;
            for (var i = 0; i < _names.Length && key < 0; i++)
            {
                if (reader.ValueTextEquals(_names[i]))
                    key = i;
            }

            reader.Read();
            var start = (int)reader.TokenStartIndex;
            reader.Skip();
            if (key >= 0)
            {
                _starts[key] = start;
                _ends[key] = (int)reader.BytesConsumed;
            }
        }

        _buffer.ResetWrittenCount();
        Append("{"u8);
        for (var i = 0; i < _starts.Length; i++)
        {
            if (_starts[i] < 0)
                return [];
            Append(i == 0 ? "\""u8 : ",\""u8);
            Append(table.Columns[table.KeyColumns[i]].JsonName.EncodedUtf8Bytes);
            Append("\":"u8);
            Append(row[_starts[i].._ends[i]]);
        }

        Append("}"u8);
        return _buffer.WrittenSpan;
    }

    private void Append(ReadOnlySpan<byte> bytes) => _buffer.Write(bytes);

    private static byte[][] Names(TableInfo table)
    {
        var names = new byte[table.KeyColumns.Length][];
        for (var i = 0; i < names.Length; i++)
            names[i] = Encoding.UTF8.GetBytes(table.Columns[table.KeyColumns[i]].Name);
        return names;
    }
}
