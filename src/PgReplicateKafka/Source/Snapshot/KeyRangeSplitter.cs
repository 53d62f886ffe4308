using System.Globalization;
using Npgsql;

namespace PgReplicateKafka.Source.Snapshot;

/// <summary>
/// Splits a large table into key ranges that parallel chunk readers can take, by the key quantiles
/// of a row sample (TABLESAMPLE BERNOULLI): right for any key type and arity. A page sample (SYSTEM)
/// would read less, but tables are often stored in key order, and whole pages of neighbouring keys
/// made ranges up to twice too large or small.
/// </summary>
public static class KeyRangeSplitter
{
    /// <summary>
    /// At most <paramref name="count"/> ranges that together cover every key exactly once: the first
    /// is unbounded below, the last unbounded above. Fewer when the sample holds fewer distinct keys.
    /// </summary>
    /// <param name="sampleRows">Keys to sample; more gives evener ranges at the cost of a longer scan.</param>
    public static async Task<IReadOnlyList<KeyRange>> SplitAsync(
        NpgsqlConnection connection, SnapshotTable table, int count, CancellationToken ct, int sampleRows = 10_000)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        table.EnsureSnapshottable();
        if (count == 1)
            return [KeyRange.All];

        // Never analyzed (reltuples < 0): no estimate, so sample everything rather than guess.
        var percent = table.EstimatedRows <= 0 ? 100.0 : Math.Clamp(100.0 * sampleRows / table.EstimatedRows, 0.01, 100.0);
        var names = new string[table.PagingKey.Length];
        var descending = new string[names.Length];
        for (var i = 0; i < names.Length; i++)
        {
            names[i] = SqlNames.QuoteIdentifier(table.Columns[table.PagingKey[i]].Name);
            descending[i] = names[i] + " DESC";
        }

        var key = string.Join(", ", names);
        // The last key of each of count buckets but the final one is a boundary: (…, b1], (b1, b2], …, (bn, …).
        var sql = $"""
            SELECT DISTINCT ON (bucket) {key}
            FROM (SELECT {key}, ntile({count}) OVER (ORDER BY {key}) AS bucket
                  FROM {table.SqlName} TABLESAMPLE BERNOULLI ({percent.ToString("R", CultureInfo.InvariantCulture)})) sample
            WHERE bucket < {count}
            ORDER BY bucket, {string.Join(", ", descending)}
            """;
        var boundaries = new List<string[]>();
        await using (var command = new NpgsqlCommand(sql, connection) { AllResultTypesAreUnknown = true })
        await using (var reader = await command.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                var boundary = new string[names.Length];
                for (var i = 0; i < boundary.Length; i++)
                    boundary[i] = reader.GetString(i);
                boundaries.Add(boundary);
            }
        }

        var ranges = new List<KeyRange>(boundaries.Count + 1);
        string[]? lower = null;
        foreach (var boundary in boundaries)
        {
            ranges.Add(new KeyRange(lower, boundary));
            lower = boundary;
        }

        ranges.Add(new KeyRange(lower, null));
        return ranges;
    }
}
