using System.Buffers;
using PgReplicateKafka.Events;

namespace PgReplicateKafka.Pipeline.Snapshot;

/// <summary>
/// The watermark reconciliation of one chunk (DBLog): opened when the chunk's low watermark arrives
/// in the stream, it records the key of every streamed change to the table; when the high watermark
/// arrives, chunk rows whose key changed in between are dropped, because the stream already carried
/// a newer state of them, and the rest are emitted. Either way the last event of a key that a
/// consumer sees is its newest state.
/// </summary>
/// <remarks>Not thread-safe: the stream's single consumer observes and closes it.</remarks>
public sealed class ChunkWindow
{
    private readonly HashSet<byte[]> _keys = new(RowKeyComparer.Instance);
    private readonly HashSet<byte[]>.AlternateLookup<ReadOnlySpan<byte>> _lookup;
    private readonly ArrayBufferWriter<byte> _scratch = new(64);

    /// <param name="table">The table as the chunk rows are laid out; its message key identifies rows.</param>
    public ChunkWindow(TableInfo table)
    {
        if (table.KeyColumns.Length == 0)
            throw new ArgumentException($"table {table.QualifiedName} has no message key: its changes cannot be matched with chunk rows", nameof(table));
        Table = table;
        _lookup = _keys.GetAlternateLookup<ReadOnlySpan<byte>>();
    }

    public TableInfo Table { get; }

    /// <summary>Distinct keys changed in the window so far.</summary>
    public int ChangedKeys => _keys.Count;

    /// <summary>The table was truncated in the window: no chunk row survives.</summary>
    public bool Truncated { get; private set; }

    /// <summary>Rows <see cref="Close"/> dropped.</summary>
    public int Dropped { get; private set; }

    /// <summary>Records a streamed change; changes to other tables are ignored.</summary>
    public void Observe(ChangeEvent change)
    {
        // By relation id, not instance: a RELATION message (say, after ALTER TABLE) builds a new TableInfo for the same table.
        if (change.Table.RelationId != Table.RelationId)
            return;
        switch (change.Operation)
        {
            case ChangeOperation.Truncate:
                Truncated = true;
                break;
            case ChangeOperation.Insert or ChangeOperation.Update or ChangeOperation.Delete:
                // An update that changes the key touches both keys: the old one is gone, the new one is new.
                if (change.After is { } after)
                    Add(change.Table, after, change.Before);
                if (change.Before is { } before)
                    Add(change.Table, before, null);
                break;
        }
    }

    /// <summary>
    /// Closes the window on the high watermark: returns the chunk rows to emit, in chunk order, and
    /// releases the dropped ones.
    /// </summary>
    public List<RowData> Close(List<RowData> chunkRows)
    {
        var emit = new List<RowData>(chunkRows.Count);
        foreach (var row in chunkRows)
        {
            if (Truncated || Changed(row))
            {
                row.Release();
                Dropped++;
            }
            else
            {
                emit.Add(row);
            }
        }

        return emit;
    }

    private void Add(TableInfo table, RowData row, RowData? fallback)
    {
        RowKey.Write(table, row, fallback, _scratch);
        _lookup.Add(_scratch.WrittenSpan);
    }

    private bool Changed(RowData row)
    {
        RowKey.Write(Table, row, null, _scratch);
        return _lookup.Contains(_scratch.WrittenSpan);
    }
}
