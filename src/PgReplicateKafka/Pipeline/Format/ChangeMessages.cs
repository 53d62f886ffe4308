using System.Runtime.CompilerServices;
using Confluent.Kafka;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Events;
using PgReplicateKafka.Sink;

namespace PgReplicateKafka.Pipeline.Format;

/// <summary>One Kafka message made from a change; <see cref="Operation"/> is null for a tombstone.</summary>
/// <remarks>Its headers are valid until the next change is built.</remarks>
internal readonly record struct OutgoingMessage(byte[]? Key, byte[]? Value, KafkaHeaders Headers, ChangeOperation? Operation);

/// <summary>
/// Turns one change into its Kafka messages: usually one; a delete and its tombstone; or, when an UPDATE changed the
/// key, a delete of the old key (and its tombstone) then a create under the new key, as Debezium does, so a compacted
/// topic does not keep the old key's row.
/// </summary>
internal sealed class ChangeMessages(ReplicatorConfig config, IReadOnlyDictionary<uint, IReadOnlyList<string>>? enumLabels)
{
    private readonly OutgoingMessage[] _messages = new OutgoingMessage[MessageHeaders.MessagesPerChange];
    private readonly bool _tombstones = config.Format.Tombstones;

    public EnvelopeWriter Writer { get; } = new(config, enumLabels);

    public MessageHeaders Headers { get; } = new(config.Format.Envelope == EnvelopeFormat.Debezium);

    public OutgoingMessage this[int index] => _messages[index];

    /// <summary>Serializes <paramref name="change"/> into this instance's messages and returns how many there are.</summary>
    // Runs per change: compiled optimized at its first call, not after seconds of tier 0 (see EventPump).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int Build(ChangeEvent change, TransactionMetadata? metadata)
    {
        if (change.Operation == ChangeOperation.Update && KeyChanged(change))
        {
            var deletion = new ChangeEvent(change.Table, ChangeOperation.Delete, change.Lsn, change.Transaction, change.Before, after: null);
            var creation = new ChangeEvent(change.Table, ChangeOperation.Insert, change.Lsn, change.Transaction, before: null, change.After);
            var oldKey = Writer.Key(deletion);
            var newKey = Writer.Key(creation);
            var count = 0;
            var deleted = Headers.For(deletion, count);
            deleted.Add(Headers.NewKey, newKey);
            _messages[count++] = new(oldKey, Writer.Value(deletion, metadata?.Next(change.Table)), deleted, ChangeOperation.Delete);
            if (_tombstones)
            {
                _messages[count] = new(oldKey, null, Headers.For(deletion, count), null);
                count++;
            }

            var created = Headers.For(creation, count);
            created.Add(Headers.OldKey, oldKey);
            _messages[count++] = new(newKey, Writer.Value(creation, metadata?.Next(change.Table)), created, ChangeOperation.Insert);
            return count;
        }

        var key = Writer.Key(change);
        _messages[0] = new(key, Writer.Value(change, metadata?.Next(change.Table)), Headers.For(change, 0), change.Operation);
        if (_tombstones && change.Operation == ChangeOperation.Delete && key is not null)
        {
            _messages[1] = new(key, null, Headers.For(change, 1), null);
            return 2;
        }

        return 1;
    }

    /// <summary>
    /// Whether an UPDATE moved the row to another key: a key column the old row carries (REPLICA IDENTITY FULL, or a
    /// column of the identity) holds another value. An unchanged TOASTed value was not changed.
    /// </summary>
    internal static bool KeyChanged(ChangeEvent change)
    {
        if (change.Before is not { } before || change.After is not { } after)
            return false;
        var table = change.Table;
        foreach (var i in table.KeyColumns)
        {
            if ((!table.IdentityIsFull && !table.Columns[i].IsReplicaIdentity) || i >= before.ColumnCount || i >= after.ColumnCount)
                continue;
            var was = before.Kind(i);
            var now = after.Kind(i);
            if (was == ValueKind.UnchangedToast || now == ValueKind.UnchangedToast)
                continue;
            if (was != now || (now == ValueKind.Text && !before.Value(i).SequenceEqual(after.Value(i))))
                return true;
        }

        return false;
    }
}
