using System.Buffers;
using System.Text;
using System.Text.Json;
using Npgsql;
using NpgsqlTypes;

namespace PgReplicateKafka.Source.Snapshot;

public enum WatermarkKind
{
    /// <summary>Written before a chunk is read: the chunk's window opens here in the stream.</summary>
    Low,

    /// <summary>Written after a chunk is read: the window closes, and the chunk's surviving rows are emitted here.</summary>
    High,
}

/// <summary>A message this product writes into the WAL with <c>pg_logical_emit_message</c>.</summary>
public abstract record SnapshotControlMessage;

/// <param name="Chunk">Unique within the snapshot and table, across its key ranges.</param>
public sealed record Watermark(WatermarkKind Kind, string SnapshotId, string Table, long Chunk) : SnapshotControlMessage;

/// <summary>An on-demand snapshot request (<c>pg-replicate-kafka snapshot --table schema.table [--where SQL]</c>).</summary>
public sealed record SnapshotRequest(string Table, string? Where) : SnapshotControlMessage;

/// <summary>
/// Encodes, emits and parses the logical decoding messages of snapshots: JSON under the prefix
/// <see cref="Prefix"/>, e.g. <c>{"kind":"low","snapshot":"…","table":"public.users","chunk":3}</c>
/// or <c>{"kind":"request","table":"public.users","where":"id &lt; 100"}</c>.
/// </summary>
public static class Watermarks
{
    public const string Prefix = "pg-replicate-kafka";

    /// <summary>Transactional, so the message takes its place in the stream at its commit, in commit order with the changes around it.</summary>
    private const string EmitSql = "SELECT pg_catalog.pg_logical_emit_message(true, $1, $2)";

    public static byte[] Encode(SnapshotControlMessage message)
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            switch (message)
            {
                case Watermark watermark:
                    w.WriteString("kind", watermark.Kind == WatermarkKind.Low ? "low" : "high");
                    w.WriteString("snapshot", watermark.SnapshotId);
                    w.WriteString("table", watermark.Table);
                    w.WriteNumber("chunk", watermark.Chunk);
                    break;
                case SnapshotRequest request:
                    w.WriteString("kind", "request");
                    w.WriteString("table", request.Table);
                    if (request.Where is null)
                        w.WriteNull("where");
                    else
                        w.WriteString("where", request.Where);
                    break;
            }

            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Parses a message's content; throws <see cref="FormatException"/> for content this product did not write.</summary>
    public static SnapshotControlMessage Parse(ReadOnlySpan<byte> content)
    {
        try
        {
            var reader = new Utf8JsonReader(content);
            using var document = JsonDocument.ParseValue(ref reader);
            var root = document.RootElement;
            var kind = root.GetProperty("kind").GetString();
            return kind switch
            {
                "low" or "high" => new Watermark(
                    kind == "low" ? WatermarkKind.Low : WatermarkKind.High,
                    Required(root, "snapshot"), Required(root, "table"), root.GetProperty("chunk").GetInt64()),
                "request" => new SnapshotRequest(
                    Required(root, "table"), root.TryGetProperty("where", out var where) && where.ValueKind != JsonValueKind.Null ? where.GetString() : null),
                _ => throw new FormatException($"unknown kind \"{kind}\""),
            };
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new FormatException($"not a {Prefix} snapshot message: {e.Message} ({Encoding.UTF8.GetString(content)})", e);
        }
    }

    /// <summary>
    /// Writes <paramref name="message"/> into the WAL and returns its LSN. Call it outside an
    /// explicit transaction: it is committed when this returns, so whatever the caller reads next
    /// comes after it in the stream.
    /// </summary>
    public static async Task<ulong> EmitAsync(NpgsqlConnection connection, SnapshotControlMessage message, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(EmitSql, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = Prefix });
        command.Parameters.Add(new NpgsqlParameter { Value = Encode(message), NpgsqlDbType = NpgsqlDbType.Bytea });
        return (ulong)(NpgsqlLogSequenceNumber)(await command.ExecuteScalarAsync(ct))!;
    }

    private static string Required(JsonElement root, string name) =>
        root.GetProperty(name).GetString() ?? throw new FormatException($"\"{name}\" is null");
}
