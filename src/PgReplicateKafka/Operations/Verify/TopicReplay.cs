namespace PgReplicateKafka.Operations.Verify;

/// <summary>
/// A table's topic replayed per message key, keeping per key only digests: the key's (for the
/// lookup), the last <c>after</c> object's, its position and its key bytes (to name it in a report).
/// Keys are compared as the configured envelope writes them (with Kafka Connect's schema, if any).
/// The last record of a key wins, since a key always lands on one partition; DELETE and tombstones
/// remove the key. A TRUNCATE has no key and so lands on any partition: it removes every key whose
/// last event has a lower <c>source.lsn</c>, which orders events across partitions. So does an UPDATE
/// that changed the key: its old key (from <c>before</c>) is retired as of the update's position.
/// </summary>
public sealed class TopicReplay(RowFingerprint fingerprint, RowKey rowKey)
{
    private const int ChunkSize = 1 << 16;

    private readonly Dictionary<UInt128, Entry> _keys = [];
    private readonly List<byte[]> _chunks = [];
    private int _used = ChunkSize;
    private ulong? _truncatedAt;

    public long Records { get; private set; }
    public long Unreadable { get; private set; }

    /// <summary>Up to 10 unreadable records, each with the reason.</summary>
    public List<string> UnreadableExamples { get; } = [];

    /// <summary>Applies the next record of a partition.</summary>
    public void Apply(byte[]? key, byte[]? value)
    {
        Records++;
        if (value is null)
        {
            if (key is not null)
                _keys.Remove(RowFingerprint.OfBytes(key)); // a tombstone
            return;
        }

        if (!Envelope.TryParse(value, out var envelope, out var reason))
        {
            Reject(key, reason!);
            return;
        }

        if (envelope.Operation == EnvelopeOperation.Truncate)
        {
            // Without a position only arrival order is known: clear what was read so far.
            if (envelope.Lsn is not { } lsn)
                _keys.Clear();
            else if (_truncatedAt is null || lsn > _truncatedAt)
                _truncatedAt = lsn;
            return;
        }

        if (key is null)
        {
            Reject(key, "no message key (verify needs tables whose events are keyed)");
            return;
        }

        var keyDigest = RowFingerprint.OfBytes(key);
        if (envelope.Operation == EnvelopeOperation.Delete)
        {
            _keys.Remove(keyDigest);
            return;
        }

        var position = envelope.Lsn ?? 0;
        var known = _keys.TryGetValue(keyDigest, out var entry);
        // A later key change (read from another partition) moved the row away: this record is older.
        if (known && entry.Retired && entry.Position > position)
            return;
        if (!known)
            entry = new Entry { KeyRef = Store(key), KeyLength = key.Length };
        entry.Value = fingerprint.OfEvent(envelope.After(value), out entry.Mask);
        entry.Position = position;
        entry.Retired = false;
        _keys[keyDigest] = entry;

        if (envelope.BeforeLength > 0 && rowKey.Of(envelope.Before(value)) is { Length: > 0 } old && !old.SequenceEqual(key))
            Retire(old, position);
    }

    /// <summary>The key an update moved a row away from is gone as of <paramref name="position"/>, unless it holds a newer record.</summary>
    private void Retire(ReadOnlySpan<byte> key, ulong position)
    {
        var digest = RowFingerprint.OfBytes(key);
        if (_keys.TryGetValue(digest, out var entry) && !entry.Retired && entry.Position > position)
            return;
        _keys[digest] = new Entry { Retired = true, Position = position, KeyRef = entry.KeyLength > 0 ? entry.KeyRef : Store(key), KeyLength = key.Length };
    }

    /// <summary>Takes the key off the replay: its last value's digest and column mask, or false when the topic does not hold it.</summary>
    public bool TryTake(ReadOnlySpan<byte> key, out UInt128 value, out int mask)
    {
        value = default;
        mask = 0;
        if (!_keys.Remove(RowFingerprint.OfBytes(key), out var entry) || !Live(entry))
            return false;
        value = entry.Value;
        mask = entry.Mask;
        return true;
    }

    /// <summary>The keys the topic holds and <see cref="TryTake"/> has not taken, with the first few of them as text.</summary>
    public long Remaining(List<string> examples, int limit)
    {
        long count = 0;
        foreach (var entry in _keys.Values)
        {
            if (!Live(entry))
                continue;
            count++;
            if (examples.Count < limit)
                examples.Add(KeyExamples.Text(_chunks[(int)(entry.KeyRef >> 32)].AsSpan((int)entry.KeyRef, entry.KeyLength)));
        }

        return count;
    }

    /// <summary>Keys the topic holds now (before any is taken).</summary>
    public long LiveKeys()
    {
        long count = 0;
        foreach (var entry in _keys.Values)
        {
            if (Live(entry))
                count++;
        }

        return count;
    }

    private bool Live(Entry entry) => !entry.Retired && (_truncatedAt is not { } truncated || entry.Position > truncated);

    private void Reject(byte[]? key, string reason)
    {
        Unreadable++;
        if (UnreadableExamples.Count < 10)
            UnreadableExamples.Add($"{(key is null ? "(null key)" : KeyExamples.Text(key))}: {reason}");
    }

    /// <summary>Copies the key into the arena: one allocation per 64 KiB of keys, not one per key.</summary>
    private long Store(ReadOnlySpan<byte> key)
    {
        if (key.Length > ChunkSize - _used)
        {
            _chunks.Add(new byte[Math.Max(ChunkSize, key.Length)]);
            _used = 0;
        }

        key.CopyTo(_chunks[^1].AsSpan(_used));
        var reference = ((long)(_chunks.Count - 1) << 32) | (uint)_used;
        _used += key.Length;
        return reference;
    }

    private struct Entry
    {
        public UInt128 Value;
        public ulong Position;
        public int Mask;
        public long KeyRef;
        public int KeyLength;

        /// <summary>Removed by a key change; kept so older records of the key, read later from another partition, stay removed.</summary>
        public bool Retired;
    }
}
