using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Logging.Abstractions;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Sink;
using PgReplicateKafka.Source;

namespace PgReplicateKafka.Operations;

/// <summary>One table's snapshot, or one on-demand request (<paramref name="Where"/> set), as the progress topic records it.</summary>
public sealed record SnapshotTableStatus(
    [property: JsonPropertyName("table")] string Table,
    [property: JsonPropertyName("state")] string State,
    [property: JsonPropertyName("rows")] long Rows,
    [property: JsonPropertyName("where"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Where = null);

/// <summary>The snapshot part of the <c>status</c> command: every table of this database and slot with recorded progress.</summary>
public static class SnapshotStatus
{
    /// <summary>Sorted by table; empty when no snapshot recorded progress. Throws <see cref="KafkaFailureException"/> when the topic cannot be read to its end.</summary>
    public static IReadOnlyList<SnapshotTableStatus> Read(ReplicatorConfig config)
    {
        var progress = new SnapshotProgressStore(config, NullLogger.Instance).ReadAll(config.Kafka.ConnectTimeout).Tables;
        return progress.Values
            .OrderBy(p => p.Key, StringComparer.Ordinal)
            .Select(p => new SnapshotTableStatus(p.Table, p.State switch
            {
                SnapshotTableState.Pending => "pending",
                SnapshotTableState.InProgress => "in_progress",
                _ => "done",
            }, p.RowsRead, p.Where))
            .ToList();
    }

    /// <summary>The slot's JSON object with a <c>snapshots</c> array added.</summary>
    public static string ToJson(SlotStatus slot, IReadOnlyList<SnapshotTableStatus> tables)
    {
        var node = JsonNode.Parse(slot.ToJson())!.AsObject();
        node["snapshots"] = JsonSerializer.SerializeToNode(tables, OutputJson.Default.IReadOnlyListSnapshotTableStatus);
        return node.ToJsonString();
    }

    public static void WriteTo(IReadOnlyList<SnapshotTableStatus> tables, TextWriter output)
    {
        if (tables.Count == 0)
        {
            output.WriteLine("snapshots            (none recorded)");
            return;
        }

        foreach (var table in tables)
            output.WriteLine(table.Where is null
                ? $"snapshot             {table.Table} {table.State}, {table.Rows} rows read"
                : $"snapshot request     {table.Table} where {table.Where}: {table.State}, {table.Rows} rows read");
    }
}
