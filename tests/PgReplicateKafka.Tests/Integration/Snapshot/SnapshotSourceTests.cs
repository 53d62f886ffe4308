using Npgsql;
using PgReplicateKafka.Events.Values;
using PgReplicateKafka.Source.Snapshot;

namespace PgReplicateKafka.Tests.Integration.Snapshot;

[Collection(IntegrationCollection.Name)]
public class SnapshotSourceTests(PostgresFixture postgres)
{
    [Fact]
    public async Task The_catalog_finds_paging_keys_message_keys_and_published_columns()
    {
        await using var db = await SnapshotTestDatabase.CreateAsync(postgres, """
            CREATE TABLE pk (region text, id int, gone int, note text, doubled int GENERATED ALWAYS AS (id * 2) STORED, PRIMARY KEY (id, region));
            ALTER TABLE pk DROP COLUMN gone;
            CREATE TABLE uniq (code text NOT NULL, other int UNIQUE, v text);
            CREATE UNIQUE INDEX uniq_code ON uniq (code);
            CREATE TABLE nullable_unique (code text UNIQUE, v text);
            CREATE TABLE nokey (a int, b text);
            CREATE TABLE full_pk (id int PRIMARY KEY, v text);
            ALTER TABLE full_pk REPLICA IDENTITY FULL;
            CREATE TABLE full_nokey (code text NOT NULL, v text);
            CREATE UNIQUE INDEX full_nokey_code ON full_nokey (code);
            ALTER TABLE full_nokey REPLICA IDENTITY FULL;
            CREATE TABLE by_index (id int PRIMARY KEY, code text NOT NULL);
            CREATE UNIQUE INDEX by_index_code ON by_index (code);
            ALTER TABLE by_index REPLICA IDENTITY USING INDEX by_index_code;
            INSERT INTO pk SELECT 'r', i FROM generate_series(1, 500) i;
            ANALYZE pk;
            CREATE PUBLICATION cols FOR TABLE pk (id, region, note) WHERE (id > 10)
            """);
        var tables = (await SnapshotTableCatalog.LoadAsync(db.Connection, "pub", CancellationToken.None)).ToDictionary(t => t.Name);

        var pk = tables["pk"];
        Assert.Equal(["region", "id", "note"], pk.Columns.Select(c => c.Name)); // dropped and generated columns are not published
        Assert.Equal([1, 0], pk.PagingKey); // in index order, not column order
        Assert.Equal([0, 1], pk.MessageKey);
        Assert.Equal("ONLY \"public\".\"pk\"", pk.SqlName);
        Assert.Equal("integer", pk.Columns[1].SqlType);
        Assert.Equal(500, pk.EstimatedRows);
        Assert.Null(pk.RefusalReason);

        Assert.Equal("uniq_code", tables["uniq"].PagingIndex); // "other" is unique but nullable
        Assert.Equal([0], tables["uniq"].PagingKey);
        Assert.Contains("no replica identity", tables["uniq"].RefusalReason);
        Assert.Contains("neither a primary key nor a unique index", tables["nullable_unique"].RefusalReason);
        var refused = Assert.Throws<SnapshotRefusedException>(() => tables["nokey"].EnsureSnapshottable());
        Assert.Equal("public.nokey", refused.Table);

        Assert.Equal([0], tables["full_pk"].MessageKey);
        Assert.True(tables["full_pk"].IdentityIsFull);
        Assert.Equal([0, 1], tables["full_nokey"].MessageKey); // REPLICA IDENTITY FULL without a primary key: the whole row
        Assert.Equal([1], tables["by_index"].MessageKey);
        Assert.Equal([0], tables["by_index"].PagingKey); // the primary key pages even when the identity is another index

        var info = tables["by_index"].ToTableInfo(TypeCatalog.Builtin);
        Assert.Equal([1], info.KeyColumns);
        Assert.Equal([false, true], info.Columns.Select(c => c.IsReplicaIdentity));
        Assert.Equal("int4", info.Columns[0].Type.Name);

        var filtered = (await SnapshotTableCatalog.LoadAsync(db.Connection, "cols", CancellationToken.None)).Single();
        Assert.Equal(["region", "id", "note"], filtered.Columns.Select(c => c.Name));
        Assert.Equal("(id > 10)", filtered.RowFilter);
    }

    [Fact]
    public async Task The_chunk_reader_pages_through_composite_and_text_keys_with_nulls_once_in_key_order()
    {
        await using var db = await SnapshotTestDatabase.CreateAsync(postgres, """
            CREATE TABLE composite (tenant int, name text, v text, n numeric, PRIMARY KEY (tenant, name));
            INSERT INTO composite SELECT t, 'name ' || lpad(i::text, 3, '0'), CASE WHEN i % 3 = 0 THEN NULL ELSE 'v' || i END, CASE WHEN i % 4 = 0 THEN NULL ELSE i / 8.0 END
                FROM generate_series(1, 5) t, generate_series(1, 23) i;
            CREATE TABLE texts (k text PRIMARY KEY, v text);
            INSERT INTO texts VALUES ('plain', 'a'), (E'tab\there', E'new\nline'), ('quote''s "double"', E'back\\slash'), ('ünïcode 😀', NULL),
                ('', 'empty key'), ('Z', 'upper'), ('z', 'lower'), (' leading space', ''), ('$1::int', 'looks like a parameter')
            """);

        var composite = await db.TableAsync("public.composite");
        var (rows, chunks) = await db.ReadAllAsync(new ChunkReader(composite, chunkSize: 7));
        var expected = await TextsAsync(db, "SELECT tenant, name, v, n FROM public.composite ORDER BY tenant, name");
        Assert.Equal(expected, rows);
        Assert.Equal(115, rows.Count);
        Assert.Equal(17, chunks); // 16 full pages and an empty one that says the table is done
        Assert.Contains(rows, r => r[2] is null);

        var texts = await db.TableAsync("public.texts");
        var (textRows, _) = await db.ReadAllAsync(new ChunkReader(texts, chunkSize: 2));
        Assert.Equal(await TextsAsync(db, "SELECT k, v FROM public.texts ORDER BY k"), textRows);
        Assert.Equal(9, textRows.Count);
    }

    [Fact]
    public async Task The_chunk_reader_applies_the_publication_row_filter_an_extra_condition_and_range_bounds()
    {
        await using var db = await SnapshotTestDatabase.CreateAsync(postgres, """
            CREATE TABLE items (id int PRIMARY KEY, v text);
            INSERT INTO items SELECT i, 'v' || i FROM generate_series(1, 100) i;
            CREATE PUBLICATION filtered FOR TABLE items WHERE (id % 2 = 0)
            """);
        var table = (await SnapshotTableCatalog.LoadAsync(db.Connection, "filtered", CancellationToken.None)).Single();

        var reader = new ChunkReader(table, chunkSize: 4, new KeyRange(["10"], ["30"]), where: "v <> 'v20'");
        var (rows, _) = await db.ReadAllAsync(reader);

        Assert.Equal([12, 14, 16, 18, 22, 24, 26, 28, 30], rows.Select(r => int.Parse(r[0]!)));
        var first = await reader.ReadAsync(db.Connection, null, CancellationToken.None);
        Assert.Equal(["18"], first.LastKey!);
        Assert.False(first.IsLast);
    }

    [Fact]
    public async Task Key_ranges_cover_the_whole_table_without_overlap()
    {
        await using var db = await SnapshotTestDatabase.CreateAsync(postgres, """
            CREATE TABLE big (a int, b text, v text, PRIMARY KEY (a, b));
            INSERT INTO big SELECT i / 10, md5(i::text), 'v' FROM generate_series(1, 20000) i;
            ANALYZE big
            """);
        var table = await db.TableAsync("public.big");

        var ranges = await KeyRangeSplitter.SplitAsync(db.Connection, table, 4, CancellationToken.None, sampleRows: 2000);

        Assert.Equal(4, ranges.Count);
        Assert.Null(ranges[0].Lower);
        Assert.Null(ranges[^1].Upper);
        var seen = new HashSet<(string, string)>();
        var sizes = new List<int>();
        foreach (var range in ranges)
        {
            var (rows, _) = await db.ReadAllAsync(new ChunkReader(table, chunkSize: 1000, range));
            sizes.Add(rows.Count);
            foreach (var row in rows)
                Assert.True(seen.Add((row[0]!, row[1]!)), $"key ({row[0]}, {row[1]}) is in two ranges");
        }

        Assert.Equal(20000, seen.Count);
        Assert.All(sizes, size => Assert.InRange(size, 2000, 8000)); // a sample gives roughly even ranges
        Assert.Equal([KeyRange.All], await KeyRangeSplitter.SplitAsync(db.Connection, table, 1, CancellationToken.None));
    }

    [Fact]
    public async Task Watermarks_and_requests_appear_in_the_replication_stream_in_commit_order()
    {
        await using var db = await SnapshotTestDatabase.CreateAsync(postgres, "CREATE TABLE items (id int PRIMARY KEY)");
        await db.CreateSlotAsync();
        var low = new Watermark(WatermarkKind.Low, "snap-1", "public.items", 0);
        var high = low with { Kind = WatermarkKind.High };
        var request = new SnapshotRequest("public.items", "id > 1");

        var lowLsn = await Watermarks.EmitAsync(db.Connection, low, CancellationToken.None);
        await db.ExecuteAsync("INSERT INTO items VALUES (1)");
        // Another prefix shares the stream: it is not ours and is skipped.
        await db.ExecuteAsync("SELECT pg_logical_emit_message(true, 'someone-else', 'x')");
        var highLsn = await Watermarks.EmitAsync(db.Connection, high, CancellationToken.None);
        await Watermarks.EmitAsync(db.Connection, request, CancellationToken.None);

        var seen = await db.StreamAsync(s => s.Count == 4, TimeSpan.FromSeconds(30));

        Assert.Equal(low, seen[0]);
        Assert.Equal("1", Assert.Single((string?[])seen[1]));
        Assert.Equal(high, seen[2]);
        Assert.Equal(request, seen[3]);
        Assert.True(highLsn > lowLsn);
    }

    [Fact]
    public async Task A_role_without_replication_or_superuser_may_emit_watermarks()
    {
        await using var db = await SnapshotTestDatabase.CreateAsync(postgres, "SELECT 1");
        var role = "plain_" + db.Config.Database;
        await db.ExecuteAsync($"CREATE ROLE {role} LOGIN PASSWORD 'x' NOSUPERUSER NOREPLICATION");
        var builder = new NpgsqlConnectionStringBuilder(postgres.Cluster.ConnectionString(db.Config.Database)) { Username = role, Password = "x" };
        await using var plain = new NpgsqlConnection(builder.ConnectionString);
        await plain.OpenAsync();

        var lsn = await Watermarks.EmitAsync(plain, new SnapshotRequest("public.t", null), CancellationToken.None);

        Assert.True(lsn > 0);
    }

    private static async Task<List<string?[]>> TextsAsync(SnapshotTestDatabase db, string sql)
    {
        var rows = new List<string?[]>();
        await using var command = new NpgsqlCommand(sql, db.Connection) { AllResultTypesAreUnknown = true };
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            var row = new string?[reader.FieldCount];
            for (var i = 0; i < row.Length; i++)
                row[i] = reader.IsDBNull(i) ? null : reader.GetString(i);
            rows.Add(row);
        }

        return rows;
    }
}
