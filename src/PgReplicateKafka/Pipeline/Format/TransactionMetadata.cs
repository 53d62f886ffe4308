using System.Globalization;
using System.Runtime.InteropServices;
using PgReplicateKafka.Events;
using PgReplicateKafka.Events.Debezium;

namespace PgReplicateKafka.Pipeline.Format;

/// <summary>
/// <c>[format] transaction_topic</c>: counts the events of the current PostgreSQL transaction, in total and per table,
/// for each event's <c>transaction</c> block and the END record. A transaction without published changes gets no
/// records, as in Debezium.
/// </summary>
internal sealed class TransactionMetadata(string topic, bool schemas)
{
    private readonly TransactionEventSerializer _serializer = new(schemas);
    private readonly Dictionary<string, long> _perTable = new(StringComparer.Ordinal);
    private readonly List<string> _tables = [];
    private SourceTransaction? _transaction;
    private string _id = "";
    private long _total;

    public string Topic { get; } = topic;

    /// <summary>BEGIN was written for the transaction <paramref name="transaction"/>.</summary>
    public bool IsOpen(SourceTransaction transaction) => ReferenceEquals(_transaction, transaction);

    /// <summary>Starts counting; the id is Debezium's <c>txId:LSN</c>, with the LSN of the transaction's first change.</summary>
    public (byte[] Key, byte[] Value) Begin(SourceTransaction transaction, ulong firstLsn)
    {
        _transaction = transaction;
        _id = string.Create(CultureInfo.InvariantCulture, $"{transaction.Xid}:{firstLsn}");
        _total = 0;
        _perTable.Clear();
        _tables.Clear();
        return (_serializer.Key(_id), _serializer.BeginRecord(_id, transaction.CommitTimestampMs));
    }

    /// <summary>Counts one change event of <paramref name="table"/> and returns its block.</summary>
    public DebeziumTransactionBlock Next(TableInfo table)
    {
        ref var count = ref CollectionsMarshal.GetValueRefOrAddDefault(_perTable, table.QualifiedName, out var seen);
        if (!seen)
            _tables.Add(table.QualifiedName);
        count++;
        return new DebeziumTransactionBlock(_id, ++_total, count);
    }

    /// <summary>The END record; the transaction is closed afterwards.</summary>
    public (byte[] Key, byte[] Value) End()
    {
        var collections = new KeyValuePair<string, long>[_tables.Count];
        for (var i = 0; i < collections.Length; i++)
            collections[i] = new(_tables[i], _perTable[_tables[i]]);
        var record = (_serializer.Key(_id), _serializer.EndRecord(_id, _transaction!.CommitTimestampMs, _total, collections));
        _transaction = null;
        return record;
    }
}
