using System.Buffers;
using System.Buffers.Text;
using System.Runtime.CompilerServices;
using System.Text;
using PgReplicateKafka.Events;
using PgReplicateKafka.Sink;

namespace PgReplicateKafka.Pipeline.Format;

/// <summary>
/// The Kafka headers of every message, so consumers can route and filter without parsing JSON. Hot path: nothing is
/// allocated per event. The values for an operation, a table and a transaction are made once and shared; the LSN's
/// is formatted into one buffer, again only when it changes (the READ events of a snapshot chunk share theirs);
/// and the header sets are filled again for each change, since the producer copies them when a message is handed over.
/// </summary>
internal sealed class MessageHeaders
{
    public const string Op = "pgrk.op";
    public const string Table = "pgrk.table";
    public const string Lsn = "pgrk.lsn";
    public const string Xid = "pgrk.xid";
    public const string CommitTimestamp = "pgrk.commit_ts_ms";

    /// <summary>The most messages one change makes (<see cref="ChangeMessages"/>): each has a header set of its own.</summary>
    public const int MessagesPerChange = 3;

    private static readonly string[] NativeOps = ["INSERT", "UPDATE", "DELETE", "TRUNCATE", "READ"];
    private static readonly string[] DebeziumOps = ["c", "u", "d", "t", "r"];

    private readonly byte[][] _ops;
    private readonly byte[] _begin = Encoding.UTF8.GetBytes("BEGIN");
    private readonly byte[] _end = Encoding.UTF8.GetBytes("END");
    private readonly Dictionary<TableInfo, byte[]> _tables = new(ReferenceEqualityComparer.Instance);
    private readonly KafkaHeaders[] _changeSets = [new(), new(), new()];
    private readonly KafkaHeaders _transactionSet = new();

    // "16/B374D848" at most 17 bytes.
    private readonly byte[] _lsn = new byte[17];
    private int _lsnLength;
    private ulong? _lsnFor;
    private SourceTransaction? _transaction;
    private byte[]? _xid;
    private byte[]? _commitTimestamp;

    /// <param name="debezium">Operation names as the envelope's <c>op</c> writes them, Debezium's codes or ours, and
    /// the key-change headers' names, Debezium's or ours.</param>
    public MessageHeaders(bool debezium)
    {
        var names = debezium ? DebeziumOps : NativeOps;
        _ops = new byte[names.Length][];
        for (var i = 0; i < names.Length; i++)
            _ops[i] = Encoding.UTF8.GetBytes(names[i]);
        NewKey = debezium ? "__debezium.newkey" : "pgrk.newkey";
        OldKey = debezium ? "__debezium.oldkey" : "pgrk.oldkey";
    }

    /// <summary>On the DELETE of a key change: the new key.</summary>
    public string NewKey { get; }

    /// <summary>On the INSERT of a key change: the old key.</summary>
    public string OldKey { get; }

    /// <summary>
    /// op, table, LSN, xid and commit time of a change event, in the header set of the change's
    /// <paramref name="message"/>-th message; valid until the headers of the next change are asked for.
    /// </summary>
    // Runs per change: compiled optimized at its first call, not after seconds of tier 0 (see EventPump).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public KafkaHeaders For(ChangeEvent change, int message)
    {
        if (!_tables.TryGetValue(change.Table, out var table))
        {
            table = Encoding.UTF8.GetBytes(change.Table.QualifiedName);
            _tables[change.Table] = table;
        }

        if (_lsnFor != change.Lsn)
        {
            _lsnLength = FormatLsn(change.Lsn, _lsn);
            _lsnFor = change.Lsn;
        }

        var headers = _changeSets[message];
        headers.Clear();
        headers.Add(Op, _ops[(int)change.Operation]);
        headers.Add(Table, table);
        headers.Add(Lsn, _lsn, _lsnLength);
        AddTransaction(headers, change.Transaction);
        return headers;
    }

    /// <summary>op (BEGIN or END), xid and commit time of a transaction record; valid until the next transaction record's are asked for.</summary>
    public KafkaHeaders ForTransaction(SourceTransaction transaction, bool begin)
    {
        var headers = _transactionSet;
        headers.Clear();
        headers.Add(Op, begin ? _begin : _end);
        AddTransaction(headers, transaction);
        return headers;
    }

    private void AddTransaction(KafkaHeaders headers, SourceTransaction transaction)
    {
        if (!ReferenceEquals(transaction, _transaction))
        {
            _transaction = transaction;
            _xid = Number(transaction.Xid);
            _commitTimestamp = Number(transaction.CommitTimestampMs);
        }

        headers.Add(Xid, _xid);
        headers.Add(CommitTimestamp, _commitTimestamp);
    }

    // PostgreSQL's own notation, as pg_current_wal_lsn() prints it: "16/B374D848".
    private static int FormatLsn(ulong lsn, Span<byte> text)
    {
        var hex = new StandardFormat('X');
        Utf8Formatter.TryFormat((uint)(lsn >> 32), text, out var high, hex);
        text[high] = (byte)'/';
        Utf8Formatter.TryFormat((uint)lsn, text[(high + 1)..], out var low, hex);
        return high + 1 + low;
    }

    private static byte[] Number(long value)
    {
        Span<byte> text = stackalloc byte[20];
        Utf8Formatter.TryFormat(value, text, out var written);
        return text[..written].ToArray();
    }
}
