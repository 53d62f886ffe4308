using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Npgsql;
using PgReplicateKafka.Events;

namespace PgReplicateKafka.Source.Snapshot;

/// <summary>One keyset page of a table.</summary>
/// <param name="Rows">The rows in key order, laid out like the table's published columns.</param>
/// <param name="LastKey">The paging key of the last row, to continue after; null when the page is empty.</param>
/// <param name="IsLast">Fewer rows than asked for: the range holds nothing after this page.</param>
/// <param name="Visibility">The transactions the read saw.</param>
public sealed record SnapshotChunk(List<RowData> Rows, string[]? LastKey, bool IsLast, SnapshotVisibility Visibility);

/// <summary>
/// Reads a table in primary-key pages: <c>SELECT cols FROM t WHERE (key) &gt; (last) [AND (key) &lt;= (upper)]
/// [AND (row filter)] [AND (where)] ORDER BY key LIMIT n</c>, one autocommit statement (one snapshot) per page.
/// </summary>
/// <remarks>
/// Values are requested in the text result format and copied as raw bytes, so a row holds exactly
/// the text pgoutput sends for it, given a connection from <see cref="SnapshotConnection.OpenAsync"/>.
/// Key parameters are passed as text and cast to the column types, which compares them with the
/// column's own ordering and collation whatever the type.
/// </remarks>
public sealed class ChunkReader
{
    private readonly SnapshotTable _table;
    private readonly int _chunkSize;
    private readonly KeyRange _range;
    private readonly string _firstSql;
    private readonly string _nextSql;
    private int _expectedRowBytes = 256;

    /// <param name="where">Extra SQL condition (an on-demand snapshot's filter); it runs under search_path pg_catalog.</param>
    public ChunkReader(SnapshotTable table, int chunkSize, KeyRange? range = null, string? where = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkSize, 1);
        table.EnsureSnapshottable();
        _table = table;
        _chunkSize = chunkSize;
        _range = range ?? KeyRange.All;

        var key = KeyList(table);
        var select = new StringBuilder("SELECT ");
        for (var i = 0; i < table.Columns.Count; i++)
            select.Append(i == 0 ? "" : ", ").Append(SqlNames.QuoteIdentifier(table.Columns[i].Name));
        select.Append(" FROM ").Append(table.SqlName);

        var filters = new List<string>();
        if (table.RowFilter is not null)
            filters.Add($"({table.RowFilter})");
        if (where is not null)
            filters.Add($"({where})");

        // Parameters: the lower bound (when there is one) takes $1..$k, the upper bound the next k.
        var k = table.PagingKey.Length;
        string? Upper(int first) => _range.Upper is null ? null : $"({key}) <= ({Parameters(table, first)})";
        _firstSql = Compose(select.ToString(), [.. Optional(Upper(1)), .. filters], key, chunkSize);
        _nextSql = Compose(select.ToString(), [$"({key}) > ({Parameters(table, 1)})", .. Optional(Upper(k + 1)), .. filters], key, chunkSize);
    }

    public SnapshotTable Table => _table;

    /// <summary>
    /// Reads the page after <paramref name="after"/> (a <see cref="SnapshotChunk.LastKey"/>), or the
    /// range's first page when null. The connection must not be inside a transaction the caller
    /// keeps open, or the page would not see a fresh snapshot.
    /// </summary>
    public async Task<SnapshotChunk> ReadAsync(NpgsqlConnection connection, string[]? after, CancellationToken ct)
    {
        var lower = after ?? _range.Lower;
        var key = _table.PagingKey;
        // Repeatable read: the page is read in the snapshot whose transactions it reports.
        await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, ct);
        SnapshotVisibility visibility;
        await using (var snapshot = new NpgsqlCommand("SELECT txid_current_snapshot()::text", connection, transaction))
            visibility = SnapshotVisibility.Parse((string)(await snapshot.ExecuteScalarAsync(ct))!);
        await using var command = new NpgsqlCommand(lower is null ? _firstSql : _nextSql, connection, transaction) { AllResultTypesAreUnknown = true };
        if (lower is not null)
            AddKey(command, lower);
        if (_range.Upper is not null)
            AddKey(command, _range.Upper);

        var rows = new List<RowData>(Math.Min(_chunkSize, 4096));
        long bytes = 0;
        await using (var reader = await command.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                var row = ReadRow(reader, _table.Columns.Count, _expectedRowBytes);
                bytes += row.ByteSize;
                rows.Add(row);
            }
        }

        await transaction.CommitAsync(ct);
        if (rows.Count > 0)
            _expectedRowBytes = (int)Math.Min(bytes / rows.Count + 64, 1 << 20);
        string[]? lastKey = null;
        if (rows.Count > 0)
        {
            var last = rows[^1];
            lastKey = new string[key.Length];
            for (var i = 0; i < key.Length; i++)
                lastKey[i] = Encoding.UTF8.GetString(last.Value(key[i]));
        }

        return new SnapshotChunk(rows, lastKey, rows.Count < _chunkSize, visibility);
    }

    // Runs per row: compiled optimized at its first call, not after seconds of tier 0 (see Pipeline/EventPump).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static RowData ReadRow(NpgsqlDataReader reader, int count, int expectedBytes)
    {
        var row = new RowData(count, expectedBytes);
        for (var i = 0; i < count; i++)
        {
            if (reader.IsDBNull(i))
            {
                row.SetNull(i);
                continue;
            }

            var length = (int)reader.GetBytes(i, 0, null, 0, 0);
            MemoryMarshal.TryGetArray<byte>(row.ReserveText(i, length), out var target);
            reader.GetBytes(i, 0, target.Array, target.Offset, length);
        }

        return row;
    }

    private void AddKey(NpgsqlCommand command, string[] values)
    {
        if (values.Length != _table.PagingKey.Length)
            throw new ArgumentException($"a key of {_table.QualifiedName} has {_table.PagingKey.Length} values, not {values.Length}");
        foreach (var value in values)
            command.Parameters.Add(new NpgsqlParameter { Value = value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
    }

    private static IEnumerable<string> Optional(string? condition) => condition is null ? [] : [condition];

    private static string Compose(string select, List<string> conditions, string key, int limit) =>
        select + (conditions.Count == 0 ? "" : " WHERE " + string.Join(" AND ", conditions)) + $" ORDER BY {key} LIMIT {limit}";

    private static string KeyList(SnapshotTable table)
    {
        var names = new string[table.PagingKey.Length];
        for (var i = 0; i < names.Length; i++)
            names[i] = SqlNames.QuoteIdentifier(table.Columns[table.PagingKey[i]].Name);
        return string.Join(", ", names);
    }

    /// <summary>"$n::type, $n+1::type, …" for the key columns, numbered from <paramref name="first"/>.</summary>
    internal static string Parameters(SnapshotTable table, int first)
    {
        var parameters = new string[table.PagingKey.Length];
        for (var i = 0; i < parameters.Length; i++)
            parameters[i] = $"${first + i}::{table.Columns[table.PagingKey[i]].SqlType}";
        return string.Join(", ", parameters);
    }
}
