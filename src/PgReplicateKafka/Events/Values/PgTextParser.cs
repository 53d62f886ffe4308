using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text.Json;

namespace PgReplicateKafka.Events.Values;

/// <summary>
/// Parses PostgreSQL's array and hstore text output straight into JSON. Both grammars are produced by
/// PostgreSQL itself, so text that does not follow them is a bug upstream and throws <see cref="FormatException"/>.
/// </summary>
internal static class PgTextParser
{
    /// <summary>
    /// Array literal: optional bounds "[0:1][1:2]=" (dropped), nested braces per dimension, elements separated by
    /// the type's delimiter, quoted with backslash escapes, and unquoted NULL for SQL NULL ("NULL" quoted is text).
    /// </summary>
    // Runs per change: compiled optimized at its first call, not after seconds of tier 0 (see EventPump).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void WriteArray(Utf8JsonWriter writer, PgType type, ReadOnlySpan<byte> text, FormatOptions options)
    {
        var element = type.Element!;
        var delimiter = type.Delimiter;
        var pos = 0;
        if (text.Length > 0 && text[0] == (byte)'[')
        {
            pos = text.IndexOf((byte)'=') + 1;
            if (pos == 0)
            {
                throw Malformed(type, text);
            }
        }

        // Unescaped elements are never longer than the literal, so one buffer serves them all.
        var rented = text.Contains((byte)'\\') ? ArrayPool<byte>.Shared.Rent(text.Length) : null;
        try
        {
            SkipSpace(text, ref pos);
            if (pos >= text.Length || text[pos] != (byte)'{')
            {
                throw Malformed(type, text);
            }

            writer.WriteStartArray();
            pos++;
            var depth = 1;
            while (depth > 0)
            {
                SkipSpace(text, ref pos);
                if (pos >= text.Length)
                {
                    throw Malformed(type, text);
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
                else if (c == (byte)'"')
                {
                    ValueWriter.Write(writer, element, ReadQuoted(type, text, ref pos, rented), options);
                }
                else
                {
                    WriteUnquoted(writer, type, text, ref pos, rented, options);
                }
            }

            SkipSpace(text, ref pos);
            if (pos != text.Length)
            {
                throw Malformed(type, text);
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

    /// <summary>hstore output: <c>"k"=>"v", "k2"=>NULL</c>; keys and values quoted with backslash escapes.</summary>
    public static void WriteHstore(Utf8JsonWriter writer, ReadOnlySpan<byte> text)
    {
        var rented = text.Contains((byte)'\\') ? ArrayPool<byte>.Shared.Rent(text.Length) : null;
        try
        {
            writer.WriteStartObject();
            var pos = 0;
            SkipSpace(text, ref pos);
            while (pos < text.Length)
            {
                if (text[pos] != (byte)'"')
                {
                    throw Malformed(null, text);
                }

                // The key is written before the value is read, so both can share the buffer.
                writer.WritePropertyName(ReadQuoted(null, text, ref pos, rented));
                SkipSpace(text, ref pos);
                if (!text[pos..].StartsWith("=>"u8))
                {
                    throw Malformed(null, text);
                }

                pos += 2;
                SkipSpace(text, ref pos);
                if (pos < text.Length && text[pos] == (byte)'"')
                {
                    writer.WriteStringValue(ReadQuoted(null, text, ref pos, rented));
                }
                else if (text[pos..].StartsWith("NULL"u8))
                {
                    writer.WriteNullValue();
                    pos += 4;
                }
                else
                {
                    throw Malformed(null, text);
                }

                SkipSpace(text, ref pos);
                if (pos < text.Length)
                {
                    if (text[pos] != (byte)',')
                    {
                        throw Malformed(null, text);
                    }

                    pos++;
                    SkipSpace(text, ref pos);
                }
            }

            writer.WriteEndObject();
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
    private static ReadOnlySpan<byte> ReadQuoted(PgType? type, ReadOnlySpan<byte> text, ref int pos, byte[]? scratch)
    {
        var start = ++pos;
        var escaped = false;
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
            throw Malformed(type, text);
        }

        var raw = text[start..pos];
        pos++;
        return escaped ? Unescape(raw, scratch!) : raw;
    }

    private static void WriteUnquoted(Utf8JsonWriter writer, PgType type, ReadOnlySpan<byte> text, ref int pos, byte[]? scratch, FormatOptions options)
    {
        var start = pos;
        var escaped = false;
        var end = pos;
        while (pos < text.Length)
        {
            var c = text[pos];
            if (c == type.Delimiter || c == (byte)'}' || c == (byte)'{' || c == (byte)'"')
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
                // Unquoted elements lose surrounding whitespace; "end" excludes trailing spaces.
                pos++;
                continue;
            }

            pos++;
            end = Math.Min(pos, text.Length);
        }

        if (pos >= text.Length || end == start)
        {
            throw Malformed(type, text);
        }

        var raw = text[start..end];
        if (!escaped && raw.Length == 4 && System.Text.Ascii.EqualsIgnoreCase(raw, "NULL"u8))
        {
            writer.WriteNullValue();
        }
        else
        {
            ValueWriter.Write(writer, type.Element!, escaped ? Unescape(raw, scratch!) : raw, options);
        }
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

    // The whitespace PostgreSQL's array and hstore parsers skip.
    private static bool IsSpace(byte c) => c is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r' or (byte)'\v' or (byte)'\f';

    private static FormatException Malformed(PgType? type, ReadOnlySpan<byte> text) =>
        new($"Malformed {type?.Name ?? "hstore"} text output ({text.Length} bytes); the value itself is not logged.");
}
