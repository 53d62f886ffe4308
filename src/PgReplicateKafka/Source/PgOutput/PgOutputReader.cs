using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Text;
using PgReplicateKafka.Events;

namespace PgReplicateKafka.Source.PgOutput;

/// <summary>
/// Reads the fields of one pgoutput message (protocol version 1, text values) from a copy of its
/// XLogData payload. Written by hand instead of using Npgsql's PgOutput messages: those read each
/// column through an async enumerator and a Stream, which cost more CPU per change than the rest of
/// the receive side together (docs/benchmarks.md); here a tuple is a loop over bytes already in memory.
/// The message formats: https://www.postgresql.org/docs/current/protocol-logicalrep-message-formats.html
/// </summary>
public struct PgOutputReader(byte[] buffer, int length)
{
    private static readonly DateTime PostgresEpoch = new(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    private readonly byte[] _buffer = buffer;
    private readonly int _length = length;
    private int _position;

    public readonly int Remaining => _length - _position;

    public byte ReadByte() => Take(1)[0];

    public short ReadInt16() => BinaryPrimitives.ReadInt16BigEndian(Take(2));

    public int ReadInt32() => BinaryPrimitives.ReadInt32BigEndian(Take(4));

    public uint ReadUInt32() => BinaryPrimitives.ReadUInt32BigEndian(Take(4));

    public ulong ReadUInt64() => BinaryPrimitives.ReadUInt64BigEndian(Take(8));

    /// <summary>A timestamp in microseconds since 2000-01-01 UTC, as commit times are sent.</summary>
    public DateTime ReadTimestamp()
    {
        var microseconds = (long)ReadUInt64();
        return microseconds switch
        {
            long.MaxValue => DateTime.MaxValue,
            long.MinValue => DateTime.MinValue,
            _ => PostgresEpoch.AddTicks(microseconds * 10),
        };
    }

    /// <summary>A null-terminated string (names are sent in the client encoding, UTF-8).</summary>
    public string ReadString()
    {
        var end = Array.IndexOf(_buffer, (byte)0, _position, _length - _position);
        if (end < 0)
            throw Malformed("a string without its terminator");
        var value = Encoding.UTF8.GetString(_buffer, _position, end - _position);
        _position = end + 1;
        return value;
    }

    public ReadOnlySpan<byte> ReadBytes(int count) =>
        count >= 0 ? Take(count) : throw Malformed($"a negative length ({count})");

    /// <summary>
    /// TupleData: a column count, then per column 'n' (null), 'u' (unchanged TOASTed value) or 't' with
    /// a length and the value's text. The row's buffer is sized from what is left of the message, which
    /// is at least the values' bytes, so it never has to grow.
    /// </summary>
    // Runs per change: compiled optimized at its first call, not after seconds of tier 0 (see EventPump).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public RowData ReadTuple()
    {
        int count = ReadInt16();
        var row = new RowData(count, Remaining);
        try
        {
            for (var i = 0; i < count; i++)
            {
                switch (ReadByte())
                {
                    case (byte)'n':
                        row.SetNull(i);
                        break;
                    case (byte)'u':
                        row.SetUnchangedToast(i);
                        break;
                    case (byte)'t':
                        var value = ReadBytes(ReadInt32());
                        value.CopyTo(row.ReserveText(i, value.Length).Span);
                        break;
                    case var kind:
                        throw Malformed($"column kind '{(char)kind}' in a tuple (only text-mode values are requested)");
                }
            }
        }
        catch
        {
            row.Release();
            throw;
        }

        return row;
    }

    private ReadOnlySpan<byte> Take(int count)
    {
        if (_length - _position < count)
            throw Malformed($"a message shorter than its fields ({_length} bytes)");
        var span = _buffer.AsSpan(_position, count);
        _position += count;
        return span;
    }

    private static InvalidOperationException Malformed(string what) => new($"pgoutput sent {what}");
}
