using System.Runtime.CompilerServices;
using PgReplicateKafka.Events;
using PgReplicateKafka.Source.PgOutput;
using PgReplicateKafka.Source.Snapshot;

namespace PgReplicateKafka.Source;

// The pgoutput messages: what each becomes, and how it is handed over.
public sealed partial class ReplicationStream
{
    /// <summary>
    /// One pgoutput message: a single switch on its type byte. Synchronous unless a hand-over or the budget has to
    /// wait, and compiled optimized at its first call, as the pump's per-change methods are (see EventPump).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private ValueTask Handle(PgOutputReader reader, ulong walStart, CancellationToken ct)
    {
        switch (reader.ReadByte())
        {
            case (byte)'B':
                reader.ReadUInt64(); // the transaction's final LSN; the commit message carries its end
                var commitTime = reader.ReadTimestamp();
                _gate.Begin();
                _transaction = new SourceTransaction(reader.ReadUInt32(), commitTime);
                return default;

            case (byte)'R':
                return DescribeAsync(RelationDescription.Read(ref reader), ct);

            case (byte)'I':
                {
                    var table = _tables[reader.ReadUInt32()];
                    Expect(reader.ReadByte(), 'N');
                    return Forward(new ChangeEvent(table, ChangeOperation.Insert, walStart, CurrentTransaction(), before: null, after: reader.ReadTuple()), ct);
                }

            case (byte)'U':
                {
                    var table = _tables[reader.ReadUInt32()];
                    RowData? before = null;
                    var kind = reader.ReadByte();
                    if (kind is (byte)'K' or (byte)'O')
                    {
                        // 'O': the whole old row (REPLICA IDENTITY FULL); 'K': the old key, when it changed.
                        before = reader.ReadTuple();
                        kind = reader.ReadByte();
                    }

                    Expect(kind, 'N');
                    return Forward(new ChangeEvent(table, ChangeOperation.Update, walStart, CurrentTransaction(), before, after: reader.ReadTuple()), ct);
                }

            case (byte)'D':
                {
                    var table = _tables[reader.ReadUInt32()];
                    reader.ReadByte(); // 'K' (the key) or 'O' (the whole old row): a tuple either way
                    return Forward(new ChangeEvent(table, ChangeOperation.Delete, walStart, CurrentTransaction(), before: reader.ReadTuple(), after: null), ct);
                }

            case (byte)'T':
                {
                    var count = reader.ReadInt32();
                    reader.ReadByte(); // CASCADE / RESTART IDENTITY: not part of the event
                    var tables = new TableInfo[count];
                    for (var i = 0; i < count; i++)
                        tables[i] = _tables[reader.ReadUInt32()];
                    return TruncateAsync(tables, walStart, ct);
                }

            case (byte)'C':
                {
                    reader.ReadByte(); // flags (unused)
                    reader.ReadUInt64(); // the commit record's start
                    var transaction = CurrentTransaction();
                    transaction.EndLsn = reader.ReadUInt64();
                    var handing = _handOver.WriteAsync(new TransactionCommitted(transaction), ct);
                    return handing.IsCompletedSuccessfully ? Committed(transaction, ct) : CommittedAsync(handing, transaction, ct);
                }

            case (byte)'M':
                var transactional = (reader.ReadByte() & 1) != 0;
                var messageLsn = reader.ReadUInt64();
                var prefix = reader.ReadString();
                var content = reader.ReadBytes(reader.ReadInt32());
                if (transactional && _transaction is not null && SnapshotMarker.Read(prefix, content, messageLsn, _transaction, _logger) is { } marker)
                    return _handOver.WriteAsync(marker, ct);
                return default;

            default:
                // 'Y' (type), 'O' (origin) and others carry nothing to publish.
                return default;
        }
    }

    private async ValueTask DescribeAsync(RelationDescription relation, CancellationToken ct)
    {
        // Describing can wait for the catalog (a type whose creation is not visible yet): what is held goes first.
        await _handOver.FlushAsync(ct);
        await _tables.DescribeAsync(relation, ct);
    }

    private async ValueTask TruncateAsync(TableInfo[] tables, ulong walStart, CancellationToken ct)
    {
        foreach (var table in tables)
            await Forward(new ChangeEvent(table, ChangeOperation.Truncate, walStart, CurrentTransaction(), before: null, after: null), ct);
    }

    private async ValueTask CommittedAsync(ValueTask handing, SourceTransaction transaction, CancellationToken ct)
    {
        await handing;
        await Committed(transaction, ct);
    }

    /// <summary>The commit is handed over: the transaction is closed, and a stop waiting for it takes effect.</summary>
    private ValueTask Committed(SourceTransaction transaction, CancellationToken ct)
    {
        _transaction = null;
        return _gate.Committed(transaction.EndLsn) ? StopAtCommitAsync(ct) : default;
    }

    // The stop takes effect with this commit: it is handed over before the output closes.
    private async ValueTask StopAtCommitAsync(CancellationToken ct)
    {
        await _handOver.FlushAsync(ct);
        _output.TryComplete();
    }

    private static void Expect(byte kind, char expected)
    {
        if (kind != expected)
            throw new InvalidOperationException($"pgoutput sent '{(char)kind}' where a tuple marked '{expected}' belongs");
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private ValueTask Forward(ChangeEvent change, CancellationToken ct)
    {
        var room = _backpressure.WaitForRoomAsync(ct);
        if (!room.IsCompletedSuccessfully)
            return ForwardWhenRoomAsync(room, change, ct);
        _backpressure.Add(change.ByteSize);
        return _handOver.WriteAsync(change, ct);
    }

    // Backpressure: wait while Kafka has not yet acknowledged enough of what we handed over, handing over
    // what is held first, since Kafka cannot acknowledge what it never got.
    private async ValueTask ForwardWhenRoomAsync(ValueTask room, ChangeEvent change, CancellationToken ct)
    {
        await _handOver.FlushAsync(ct);
        await room;
        _backpressure.Add(change.ByteSize);
        await _handOver.WriteAsync(change, ct);
    }
}
