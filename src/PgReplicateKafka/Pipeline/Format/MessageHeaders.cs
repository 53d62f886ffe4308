using System.Buffers;
using System.Buffers.Text;
using System.Runtime.CompilerServices;
using System.Text;
using Confluent.Kafka;
using PgReplicateKafka.Events;

namespace PgReplicateKafka.Pipeline.Format;

/// <summary>
/// The Kafka headers of every message, so consumers can route and filter without parsing JSON. Hot path: the headers
/// for an operation, a table and a transaction are built once and shared; only the LSN's is new for each event
/// (librdkafka copies headers when a message is handed over).
/// </summary>
internal sealed class MessageHeaders
{
    public const string Op = "pgrk.op";
    public const string Table = "pgrk.table";
    public const string Lsn = "pgrk.lsn";
    public const string Xid = "pgrk.xid";
    public const string CommitTimestamp = "pgrk.commit_ts_ms";

    private static readonly string[] NativeOps = ["INSERT", "UPDATE", "DELETE", "TRUNCATE", "READ"];
    private static readonly string[] DebeziumOps = ["c", "u", "d", "t", "r"];

    private readonly Header[] _ops;
    private readonly Header _begin = Text(Op, "BEGIN");
    private readonly Header _end = Text(Op, "END");
    private readonly Dictionary<TableInfo, Header> _tables = new(ReferenceEqualityComparer.Instance);
    private SourceTransaction? _transaction;
    private Header? _xid;
    private Header? _commitTimestamp;

    /// <param name="debezium">Operation names as the envelope's <c>op</c> writes them, Debezium's codes or ours, and
    /// the key-change headers' names, Debezium's or ours.</param>
    public MessageHeaders(bool debezium)
    {
        var names = debezium ? DebeziumOps : NativeOps;
        _ops = new Header[names.Length];
        for (var i = 0; i < names.Length; i++)
            _ops[i] = Text(Op, names[i]);
        NewKey = debezium ? "__debezium.newkey" : "pgrk.newkey";
        OldKey = debezium ? "__debezium.oldkey" : "pgrk.oldkey";
    }

    /// <summary>On the DELETE of a key change: the new key.</summary>
    public string NewKey { get; }

    /// <summary>On the INSERT of a key change: the old key.</summary>
    public string OldKey { get; }

    /// <summary>op, table, LSN, xid and commit time of a change event.</summary>
    // Runs per change: compiled optimized at its first call, not after seconds of tier 0 (see EventPump).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public Headers For(ChangeEvent change)
    {
        if (!_tables.TryGetValue(change.Table, out var table))
        {
            table = Text(Table, change.Table.QualifiedName);
            _tables[change.Table] = table;
        }

        var headers = new Headers { _ops[(int)change.Operation], table, LsnHeader(change.Lsn) };
        AddTransaction(headers, change.Transaction);
        return headers;
    }

    /// <summary>op (BEGIN or END), xid and commit time of a transaction record.</summary>
    public Headers ForTransaction(SourceTransaction transaction, bool begin)
    {
        var headers = new Headers { begin ? _begin : _end };
        AddTransaction(headers, transaction);
        return headers;
    }

    private void AddTransaction(Headers headers, SourceTransaction transaction)
    {
        if (!ReferenceEquals(transaction, _transaction))
        {
            _transaction = transaction;
            _xid = Number(Xid, transaction.Xid);
            _commitTimestamp = Number(CommitTimestamp, transaction.CommitTimestampMs);
        }

        headers.Add(_xid!);
        headers.Add(_commitTimestamp!);
    }

    // PostgreSQL's own notation, as pg_current_wal_lsn() prints it: "16/B374D848".
    private static Header LsnHeader(ulong lsn)
    {
        Span<byte> text = stackalloc byte[17];
        var hex = new StandardFormat('X');
        Utf8Formatter.TryFormat((uint)(lsn >> 32), text, out var high, hex);
        text[high] = (byte)'/';
        Utf8Formatter.TryFormat((uint)lsn, text[(high + 1)..], out var low, hex);
        return new Header(Lsn, text[..(high + 1 + low)].ToArray());
    }

    private static Header Number(string name, long value)
    {
        Span<byte> text = stackalloc byte[20];
        Utf8Formatter.TryFormat(value, text, out var written);
        return new Header(name, text[..written].ToArray());
    }

    private static Header Text(string name, string value) => new(name, Encoding.UTF8.GetBytes(value));
}
