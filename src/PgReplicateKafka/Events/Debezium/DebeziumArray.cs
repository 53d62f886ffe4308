using System.Buffers;
using System.Text.Json;

namespace PgReplicateKafka.Events.Debezium;

/// <summary>
/// Walks PostgreSQL's array literal (same grammar as <see cref="Values.PgTextParser"/>) and writes each element with
/// the element's Debezium mapping; multi-dimensional arrays become nested JSON arrays.
/// </summary>
internal static class DebeziumArray
{
    public static void Write(DebeziumValueWriter values, Utf8JsonWriter writer, DebeziumField array, ReadOnlySpan<byte> text)
    {
        var element = array.Element!;
        var delimiter = array.Delimiter;
        var pos = 0;
        if (text.Length > 0 && text[0] == (byte)'[')
        {
            // Explicit bounds "[0:1]=" carry no value.
            pos = text.IndexOf((byte)'=') + 1;
        }

        // Unescaped elements are never longer than the literal, so one buffer serves them all.
        var rented = text.Contains((byte)'\\') ? ArrayPool<byte>.Shared.Rent(text.Length) : null;
        try
        {
            SkipSpace(text, ref pos);
            if (pos >= text.Length || text[pos] != (byte)'{')
            {
                throw Malformed(text);
            }

            writer.WriteStartArray();
            pos++;
            var depth = 1;
            while (depth > 0)
            {
                SkipSpace(text, ref pos);
                if (pos >= text.Length)
                {
                    throw Malformed(text);
                }

                var c = text[pos];
                if (c == (byte)'{')
                {
                    writer.WriteStartArray();
                    depth++;
                    pos++;
                }
                else if (c == (byte)'}')
                {
                    writer.WriteEndArray();
                    depth--;
                    pos++;
                }
                else if (c == delimiter)
                {
                    pos++;
                }
                else
                {
                    var quoted = c == (byte)'"';
                    var raw = quoted ? ReadQuoted(text, ref pos, out var escaped) : ReadUnquoted(text, delimiter, ref pos, out escaped);
                    if (!quoted && !escaped && raw.Length == 4 && System.Text.Ascii.EqualsIgnoreCase(raw, "NULL"u8))
                    {
                        writer.WriteNullValue();
                    }
                    else
                    {
                        values.Write(writer, element, escaped ? Unescape(raw, rented!) : raw);
                    }
                }
            }
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    // pos is at the opening quote; on return it is past the closing quote.
    private static ReadOnlySpan<byte> ReadQuoted(ReadOnlySpan<byte> text, ref int pos, out bool escaped)
    {
        var start = ++pos;
        escaped = false;
        while (pos < text.Length && text[pos] != (byte)'"')
        {
            if (text[pos] == (byte)'\\')
            {
                escaped = true;
                pos++;
            }

            pos++;
        }

        if (pos >= text.Length)
        {
            throw Malformed(text);
        }

        return text[start..pos++];
    }

    // Unquoted elements lose surrounding whitespace.
    private static ReadOnlySpan<byte> ReadUnquoted(ReadOnlySpan<byte> text, byte delimiter, ref int pos, out bool escaped)
    {
        var start = pos;
        var end = pos;
        escaped = false;
        while (pos < text.Length)
        {
            var c = text[pos];
            if (c == delimiter || c is (byte)'}' or (byte)'{' or (byte)'"')
            {
                break;
            }

            if (c == (byte)'\\')
            {
                escaped = true;
                pos++;
            }
            else if (IsSpace(c))
            {
                pos++;
                continue;
            }

            pos++;
            end = Math.Min(pos, text.Length);
        }

        if (pos >= text.Length || end == start)
        {
            throw Malformed(text);
        }

        return text[start..end];
    }

    private static ReadOnlySpan<byte> Unescape(ReadOnlySpan<byte> raw, byte[] scratch)
    {
        var length = 0;
        for (var i = 0; i < raw.Length; i++)
        {
            if (raw[i] == (byte)'\\' && i + 1 < raw.Length)
            {
                i++;
            }

            scratch[length++] = raw[i];
        }

        return scratch.AsSpan(0, length);
    }

    private static void SkipSpace(ReadOnlySpan<byte> text, ref int pos)
    {
        while (pos < text.Length && IsSpace(text[pos]))
        {
            pos++;
        }
    }

    private static bool IsSpace(byte c) => c is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r' or (byte)'\v' or (byte)'\f';

    private static FormatException Malformed(ReadOnlySpan<byte> text) =>
        new($"Malformed array text output ({text.Length} bytes); the value itself is not logged.");
}
