using System.Text.Json.Serialization;

namespace PgReplicateKafka.Sink;

/// <summary>The progress topic's records as JSON.</summary>
public sealed partial class SnapshotProgressStore
{
    // Generated at build time: the published binary is trimmed, which turns reflection-based
    // serialization off (it threw on the first record).
    [JsonSerializable(typeof(KeyRecord))]
    [JsonSerializable(typeof(ValueRecord))]
    [JsonSerializable(typeof(SlotValueRecord))]
    private sealed partial class ProgressJson : JsonSerializerContext;

    private sealed class KeyRecord
    {
        [JsonPropertyName("database")]
        public string? Database { get; init; }

        [JsonPropertyName("slot")]
        public string? Slot { get; init; }

        /// <summary>Left out of the slot record's key.</summary>
        [JsonPropertyName("table")]
        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public string? Table { get; init; }

        /// <summary>An on-demand request's snapshot id; left out of the table's own key.</summary>
        [JsonPropertyName("request")]
        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public string? Request { get; init; }
    }

    private sealed class RangeRecord
    {
        [JsonPropertyName("lower")]
        public string[]? Lower { get; init; }

        [JsonPropertyName("upper")]
        public string[]? Upper { get; init; }

        [JsonPropertyName("last_key")]
        public string[]? LastKey { get; init; }

        [JsonPropertyName("done")]
        public bool Done { get; init; }
    }

    private sealed class ValueRecord
    {
        [JsonPropertyName("database")]
        public string? Database { get; init; }

        [JsonPropertyName("slot")]
        public string? Slot { get; init; }

        [JsonPropertyName("table")]
        public string? Table { get; init; }

        [JsonPropertyName("snapshot")]
        public string? Snapshot { get; init; }

        [JsonPropertyName("state")]
        public string? State { get; init; }

        [JsonPropertyName("where")]
        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public string? Where { get; init; }

        [JsonPropertyName("rows")]
        public long Rows { get; init; }

        [JsonPropertyName("ranges")]
        public RangeRecord[]? Ranges { get; init; }

        [JsonPropertyName("system_id")]
        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public string? SystemId { get; init; }

        [JsonPropertyName("slot_origin")]
        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public string? SlotOrigin { get; init; }

        [JsonPropertyName("ts_ms")]
        public long TsMs { get; init; }
    }

    private sealed class SlotValueRecord
    {
        [JsonPropertyName("database")]
        public string? Database { get; init; }

        [JsonPropertyName("slot")]
        public string? Slot { get; init; }

        [JsonPropertyName("system_id")]
        public string? SystemId { get; init; }

        [JsonPropertyName("slot_origin")]
        public string? SlotOrigin { get; init; }

        [JsonPropertyName("ts_ms")]
        public long TsMs { get; init; }
    }
}
