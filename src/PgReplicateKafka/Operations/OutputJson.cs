using System.Text.Json.Serialization;
using PgReplicateKafka.Source;

namespace PgReplicateKafka.Operations;

/// <summary>
/// The JSON of the commands' <c>--json</c> output, generated at build time: the published binary is
/// trimmed, which turns reflection-based serialization off.
/// </summary>
[JsonSerializable(typeof(SlotStatus))]
[JsonSerializable(typeof(IReadOnlyList<SnapshotTableStatus>))]
internal sealed partial class OutputJson : JsonSerializerContext;
