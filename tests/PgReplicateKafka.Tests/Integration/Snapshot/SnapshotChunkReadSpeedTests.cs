using System.Diagnostics;
using PgReplicateKafka.Source.Snapshot;
using Xunit.Abstractions;

namespace PgReplicateKafka.Tests.Integration.Snapshot;

/// <summary>Chunk read speed next to a plain COPY TO STDOUT of the same rows (numbers in docs/snapshots.md).</summary>
[Collection(IntegrationCollection.Name)]
public class SnapshotChunkReadSpeedTests(PostgresFixture postgres, ITestOutputHelper output)
{
    private const int Rows = 200_000;

    [Fact]
    public async Task Chunked_reads_of_200k_rows_are_measured_next_to_a_raw_copy()
    {
        await using var db = await SnapshotTestDatabase.CreateAsync(postgres, $"""
            CREATE TABLE users (id bigint PRIMARY KEY, name text, email text, created_at timestamptz, score numeric(10,2), active bool);
            INSERT INTO users SELECT i, 'name ' || i, 'user' || i || '@example.com', '2024-01-01'::timestamptz - i * interval '1 minute', i / 7.0, i % 2 = 0
                FROM generate_series(1, {Rows}) i;
            ANALYZE users
            """);
        var table = await db.TableAsync("public.users");

        for (var round = 1; round <= 3; round++)
        {
            var copy = Stopwatch.StartNew();
            long chars = 0;
            using (var export = await db.Connection.BeginTextExportAsync("COPY (SELECT id, name, email, created_at, score, active FROM public.users ORDER BY id) TO STDOUT"))
            {
                var buffer = new char[65536];
                int read;
                while ((read = await export.ReadAsync(buffer, 0, buffer.Length)) > 0)
                    chars += read;
            }

            copy.Stop();
            var chunked = Stopwatch.StartNew();
            var reader = new ChunkReader(table, chunkSize: 10_000);
            string[]? after = null;
            var rows = 0;
            while (true)
            {
                var chunk = await reader.ReadAsync(db.Connection, after, CancellationToken.None);
                rows += chunk.Rows.Count;
                foreach (var row in chunk.Rows)
                    row.Release();
                if (chunk.IsLast)
                    break;
                after = chunk.LastKey;
            }

            chunked.Stop();
            Assert.Equal(Rows, rows);
            Assert.True(chars > 0);
            output.WriteLine($"round {round}: ChunkReader (10k-row chunks) {Rows / chunked.Elapsed.TotalSeconds:N0} rows/s ({chunked.ElapsedMilliseconds} ms); " +
                $"COPY TO STDOUT {Rows / copy.Elapsed.TotalSeconds:N0} rows/s ({copy.ElapsedMilliseconds} ms)");
        }
    }
}
