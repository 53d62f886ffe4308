using Npgsql;

namespace PgReplicateKafka.Bench;

/// <summary>The tables and the writes of each workload.</summary>
internal static class Workloads
{
    // The shape of the demo's and the seed's users table.
    public const string UsersTable =
        """
        CREATE TABLE public.users (
            id bigserial PRIMARY KEY, name text NOT NULL, email text,
            created_at timestamptz NOT NULL DEFAULT now(), score numeric(10,2), active bool NOT NULL DEFAULT true)
        """;

    // 20 columns: jsonb, numerics, timestamps, a ~200-byte text among shorter ones, arrays, and scalars.
    public const string WideTable =
        """
        CREATE TABLE public.wide (
            id bigserial PRIMARY KEY, doc jsonb NOT NULL, amount numeric(14,4), ratio numeric,
            created_at timestamptz, updated_at timestamptz, title text, body text, summary text, notes text,
            extra text, tags text[], scores int[], flag bool, qty int, weight float8, day date, uid uuid,
            code varchar(16), big bigint)
        """;

    private const int WideRowsPerTransaction = 10_000;

    /// <summary>One transaction inserting <paramref name="rows"/> users.</summary>
    public static async Task BulkAsync(string connectionString, int rows)
    {
        await using var connection = await OpenAsync(connectionString);
        await using var insert = new NpgsqlCommand(
            """
            INSERT INTO public.users (name, email, created_at, score, active)
            SELECT 'user ' || g, 'user' || g || '@example.com', now() - g * interval '1 second', (g % 100000) / 100.0, g % 2 = 0
            FROM generate_series(1, $1) g
            """, connection)
        { CommandTimeout = 0 };
        insert.Parameters.Add(new NpgsqlParameter { Value = rows });
        await insert.ExecuteNonQueryAsync();
    }

    /// <summary>
    /// <paramref name="transactions"/> single-change transactions spread over <paramref name="writers"/>
    /// concurrent connections: half inserts, 30% updates and 20% deletes of the writer's own live rows.
    /// </summary>
    public static async Task OltpAsync(string connectionString, int transactions, int writers)
    {
        var writes = Enumerable.Range(0, writers).Select(w =>
            OltpWriterAsync(connectionString, transactions / writers + (w < transactions % writers ? 1 : 0), seed: w));
        await Task.WhenAll(writes);
    }

    private static async Task OltpWriterAsync(string connectionString, int transactions, int seed)
    {
        await using var connection = await OpenAsync(connectionString);
        await using var insert = new NpgsqlCommand(
            "INSERT INTO public.users (name, email, score) VALUES ($1, $2, $3) RETURNING id", connection);
        insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = "" });
        insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = "" });
        insert.Parameters.Add(new NpgsqlParameter<decimal> { TypedValue = 0m });
        await using var update = new NpgsqlCommand("UPDATE public.users SET score = score + 1, active = NOT active WHERE id = $1", connection);
        update.Parameters.Add(new NpgsqlParameter<long> { TypedValue = 0 });
        await using var delete = new NpgsqlCommand("DELETE FROM public.users WHERE id = $1", connection);
        delete.Parameters.Add(new NpgsqlParameter<long> { TypedValue = 0 });
        await insert.PrepareAsync();
        await update.PrepareAsync();
        await delete.PrepareAsync();

        var random = new Random(seed);
        var live = new List<long>();
        for (var k = 0; k < transactions; k++)
        {
            var kind = k % 10;
            if (kind < 5 || live.Count == 0)
            {
                ((NpgsqlParameter<string>)insert.Parameters[0]).TypedValue = $"writer {seed} row {k}";
                ((NpgsqlParameter<string>)insert.Parameters[1]).TypedValue = $"w{seed}r{k}@example.com";
                ((NpgsqlParameter<decimal>)insert.Parameters[2]).TypedValue = k % 10000 / 100m;
                live.Add((long)(await insert.ExecuteScalarAsync())!);
            }
            else if (kind < 8)
            {
                ((NpgsqlParameter<long>)update.Parameters[0]).TypedValue = live[random.Next(live.Count)];
                await update.ExecuteNonQueryAsync();
            }
            else
            {
                var index = random.Next(live.Count);
                ((NpgsqlParameter<long>)delete.Parameters[0]).TypedValue = live[index];
                live[index] = live[^1];
                live.RemoveAt(live.Count - 1);
                await delete.ExecuteNonQueryAsync();
            }
        }
    }

    /// <summary><paramref name="rows"/> wide rows, in transactions of 10,000.</summary>
    public static async Task WideAsync(string connectionString, int rows)
    {
        await using var connection = await OpenAsync(connectionString);
        await using var insert = new NpgsqlCommand(
            """
            INSERT INTO public.wide (doc, amount, ratio, created_at, updated_at, title, body, summary, notes, extra,
                                     tags, scores, flag, qty, weight, day, uid, code, big)
            SELECT jsonb_build_object('n', g, 'name', 'item ' || g, 'nested', jsonb_build_object('a', g % 7, 'b', ARRAY[g, g + 1]), 'ok', g % 2 = 0),
                   (g * 1.2345)::numeric(14,4), g / 7.0, now() - g * interval '1 minute', now(),
                   'title ' || g, repeat(md5(g::text), 6) || left(md5((g + 1)::text), 8),
                   md5(g::text) || md5((g * 3)::text), 'note ' || g, CASE WHEN g % 2 = 0 THEN NULL ELSE 'extra "' || g || '"' END,
                   ARRAY['tag' || (g % 10), 'tag ' || (g % 13), 'x'], ARRAY[g % 100, g % 1000, g],
                   g % 3 = 0, g % 1000, g * 0.5, DATE '2024-01-01' + (g % 365), md5(g::text)::uuid, 'C' || (g % 100000), g::bigint * 1000003
            FROM generate_series($1, $2) g
            """, connection)
        { CommandTimeout = 0 };
        insert.Parameters.Add(new NpgsqlParameter<int> { TypedValue = 0 });
        insert.Parameters.Add(new NpgsqlParameter<int> { TypedValue = 0 });
        for (var first = 1; first <= rows; first += WideRowsPerTransaction)
        {
            ((NpgsqlParameter<int>)insert.Parameters[0]).TypedValue = first;
            ((NpgsqlParameter<int>)insert.Parameters[1]).TypedValue = Math.Min(rows, first + WideRowsPerTransaction - 1);
            await insert.ExecuteNonQueryAsync();
        }
    }

    public static async Task<NpgsqlConnection> OpenAsync(string connectionString)
    {
        var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        return connection;
    }
}
