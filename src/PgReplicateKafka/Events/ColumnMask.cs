using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace PgReplicateKafka.Events;

/// <summary>
/// How a masked column is written instead of its value: the lowercase hex SHA-256 of the salt's UTF-8
/// bytes followed by the value's PostgreSQL text (equal values stay equal, so joins and keys still work),
/// or a fixed replacement. Either way a JSON string; NULL stays null. Thread-safe.
/// </summary>
public sealed class ColumnMask
{
    private const int StackBytes = 512;

    private readonly byte[]? _salt;
    private readonly JsonEncodedText _replacement;

    private ColumnMask(byte[]? salt, JsonEncodedText replacement)
    {
        _salt = salt;
        _replacement = replacement;
    }

    public static ColumnMask Hash(string salt) => new(Encoding.UTF8.GetBytes(salt), default);

    public static ColumnMask Replace(string replacement) => new(null, JsonEncodedText.Encode(replacement));

    /// <summary>Writes the masked form of <paramref name="text"/> (a non-null value's text).</summary>
    public void Write(Utf8JsonWriter w, ReadOnlySpan<byte> text)
    {
        if (_salt is null)
        {
            w.WriteStringValue(_replacement);
            return;
        }

        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        var length = _salt.Length + text.Length;
        byte[]? rented = null;
        var input = length <= StackBytes ? stackalloc byte[StackBytes] : (rented = ArrayPool<byte>.Shared.Rent(length));
        try
        {
            _salt.CopyTo(input);
            text.CopyTo(input[_salt.Length..]);
            SHA256.HashData(input[..length], hash);
        }
        finally
        {
            // The buffer held the clear value: wipe it before anyone else rents it.
            input[..length].Clear();
            if (rented is not null)
                ArrayPool<byte>.Shared.Return(rented);
        }

        Span<byte> hex = stackalloc byte[SHA256.HashSizeInBytes * 2];
        for (var i = 0; i < hash.Length; i++)
        {
            hex[2 * i] = Digit(hash[i] >> 4);
            hex[(2 * i) + 1] = Digit(hash[i] & 0xF);
        }

        w.WriteStringValue(hex);
    }

    private static byte Digit(int nibble) => (byte)(nibble < 10 ? '0' + nibble : 'a' + nibble - 10);
}
