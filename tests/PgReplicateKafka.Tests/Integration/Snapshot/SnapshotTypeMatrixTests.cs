using PgReplicateKafka.Source.Snapshot;

namespace PgReplicateKafka.Tests.Integration.Snapshot;

/// <summary>
/// Chunk rows hold exactly the text pgoutput sends for the same row, for every type of the type
/// matrix (<see cref="TypeMatrixTests"/>): READ events then render like streamed ones.
/// </summary>
[Collection(IntegrationCollection.Name)]
public class SnapshotTypeMatrixTests(PostgresFixture postgres)
{
    // The types and values of TypeMatrixTests' matrix: (column, type, first value, second value).
    private static readonly (string Name, string Type, string A, string B)[] Matrix =
    [
        ("c_bool", "bool", "true", "false"),
        ("c_int2", "int2", "-32768", "32767"),
        ("c_int4", "int4", "-2147483648", "2147483647"),
        ("c_int8", "int8", "-9223372036854775808", "9223372036854775807"),
        ("c_oid", "oid", "4294967295", "0"),
        ("c_xid", "xid", "'4294967295'", "'3'"),
        ("c_float4", "float4", "0.1", "3.4028235e38"),
        ("c_float4_special", "float4", "'Infinity'", "'-0'"),
        ("c_float8", "float8", "0.1", "1e-300"),
        ("c_float8_17_digits", "float8", "0.1::float8 + 0.2", "1.5e300"),
        ("c_float8_special", "float8", "'NaN'", "'-Infinity'"),
        ("c_numeric", "numeric", "1234567890123456789012345678901234567890", "'NaN'"),
        ("c_numeric_40_20", "numeric(40,20)", "-12345678901234567890.12345678901234567890", "0"),
        ("c_numeric_5_2", "numeric(5,2)", "12.3", "-0.005"),
        ("c_numeric_special", "numeric", "'Infinity'", "1e-20"),
        ("c_money", "money", "1234567.5", "-0.01"),
        ("c_text", "text", """E'say "hi" \\ C:\\dir\n😀 é <&>'""", "''"),
        ("c_text_empty", "text", "''", "NULL"),
        ("c_varchar", "varchar(20)", "'ünïcode'", "E'tab\\there'"),
        ("c_bpchar", "char(6)", "'ab'", "''"),
        ("c_name", "name", "'a_name'", "'Zürich'"),
        ("c_char", "\"char\"", "'x'", "'\"'"),
        ("c_citext", "citext", "'MiXeD Case'", "'ß'"),
        ("c_uuid", "uuid", "'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'", "'00000000-0000-0000-0000-000000000000'"),
        ("c_json", "json", """'{"b": 1,  "a": [1.50, null, "x\ny"]}'""", """'"just a string"'"""),
        ("c_jsonb", "jsonb", """'{"n": 1.0e2, "a": {"b": [1, {"c": "q\"😀"}]}}'""", "'[]'"),
        ("c_bytea", "bytea", """'\x00ff10'""", "''"),
        ("c_date", "date", "'2023-10-15'", "'0044-03-15 BC'"),
        ("c_date_special", "date", "'infinity'", "'-infinity'"),
        ("c_timestamp", "timestamp", "'2023-10-15 10:30:00.5'", "'0044-03-15 12:00:01.25 BC'"),
        ("c_timestamptz", "timestamptz", "'2023-10-15 10:30:00.123456'", "'2024-01-01 00:00:00'"),
        ("c_timestamptz_bc", "timestamptz", "'0044-03-15 12:00:00+00 BC'", "'0001-01-01 00:30:00+01'"),
        ("c_timestamptz_special", "timestamptz", "'infinity'", "'-infinity'"),
        ("c_time", "time", "'10:30:00.123456'", "'24:00:00'"),
        ("c_timetz", "timetz", "'10:30:00-08'", "'23:59:59.999999+05:45'"),
        ("c_interval", "interval", "'1 year 2 months 3 days 4 hours 5 minutes 6.5 seconds'", "'-1 year -2 days +03:00:00'"),
        ("c_enum", "mood", "'happy'", """'it''s "complicated"'"""),
        ("c_hstore", "hstore", """'a=>1, "b c"=>NULL, "q\"x"=>"back\\slash"'""", "''"),
        ("c_int_arr", "int[]", "'{1,NULL,3}'", "'{{1,2},{3,4}}'"),
        ("c_text_arr", "text[]", """ARRAY['a b', NULL, 'NULL', '', E'q"\\', '{}']""", "'{}'"),
        ("c_numeric_arr", "numeric[]", "'{1.50,NaN,-0.001}'", "'[0:1]={7,8}'"),
        ("c_timestamptz_arr", "timestamptz[]", "ARRAY['2023-10-15 10:30:00+00', NULL, '0044-03-15 12:00:00+00 BC']::timestamptz[]",
            """'{{"2024-01-01 00:00:00+05:45",infinity},{NULL,"2000-01-01 00:00:00+00"}}'"""),
        ("c_jsonb_arr", "jsonb[]", """ARRAY['{"a": "x,\"y\"}"}', 'null', NULL, '[1, 2]']::jsonb[]""", """ARRAY[['1', '"s"'], ['{}', '[]']]::jsonb[]"""),
        ("c_domain", "positive_int", "42", "2147483647"),
        ("c_domain_arr", "positive_int[]", "'{1,NULL}'", "'{}'"),
        ("c_inet", "inet", "'192.168.0.1/24'", "'::1'"),
        ("c_cidr", "cidr", "'10.0.0.0/8'", "'2001:db8::/32'"),
        ("c_macaddr", "macaddr", "'08:00:2B:01:02:03'", "'08-00-2b-01-02-04'"),
        ("c_macaddr8", "macaddr8", "'08:00:2b:01:02:03:04:05'", "'08:00:2b:01:02:03'"),
        ("c_bit", "bit(4)", "B'1010'", "B'0000'"),
        ("c_varbit", "varbit", "B'1'", "B''"),
        ("c_int4range", "int4range", "'[1,10)'", "'(1,10]'"),
        ("c_tstzrange", "tstzrange", "'[2023-10-15 10:30:00+00,infinity)'", "'empty'"),
        ("c_point", "point", "'(1.5,-2)'", "'(0.1,1e-300)'"),
        ("c_box_arr", "box[]", "ARRAY['((0,0),(1,1))', '((2,2),(3,3))']::box[]", "'{}'"),
        ("c_tsvector", "tsvector", "'a fat:2 cat'", "''"),
        ("c_tsquery", "tsquery", "'fat & (rat | cat)'", "'!x'"),
        ("c_xml", "xml", """'<a b="1">x &amp; y</a>'""", "'text only'"),
        ("c_pg_lsn", "pg_lsn", "'16/B374D848'", "'0/0'"),
        ("c_composite", "pair", """ROW(1, 'a "b", c')""", "ROW(NULL, '')"),
        ("c_regclass", "regclass", "'matrix'", "'pg_class'"),
    ];

    [Fact]
    public async Task Chunk_rows_hold_the_text_pgoutput_sends_for_every_type_whatever_the_database_defaults()
    {
        var names = string.Join(", ", Matrix.Select(c => c.Name));
        await using var db = await SnapshotTestDatabase.CreateAsync(postgres, $"""
            CREATE EXTENSION hstore;
            CREATE EXTENSION citext;
            CREATE TYPE mood AS ENUM ('sad', 'happy', 'it''s "complicated"');
            CREATE DOMAIN positive_int AS int CHECK (VALUE > 0);
            CREATE TYPE pair AS (n int, label text);
            CREATE TABLE matrix (id int PRIMARY KEY, {string.Join(", ", Matrix.Select(c => $"{c.Name} {c.Type}"))})
            """);
        // Per-database defaults apply to every new session unless it pins its own, as both connections must.
        foreach (var setting in new[] { "DateStyle = 'SQL, DMY'", "IntervalStyle = 'postgres_verbose'", "extra_float_digits = 0", "TimeZone = 'Pacific/Chatham'", "bytea_output = 'escape'", "lc_monetary = 'C.UTF-8'" })
            await db.ExecuteAsync($"ALTER DATABASE \"{db.Config.Database}\" SET {setting}");
        await db.CreateSlotAsync();
        await db.ExecuteAsync($"""
            SET TIME ZONE 'America/St_Johns';
            INSERT INTO matrix (id, {names}) VALUES (1, {string.Join(", ", Matrix.Select(c => c.A))});
            INSERT INTO matrix (id) VALUES (2);
            SET TIME ZONE 'Asia/Kathmandu';
            INSERT INTO matrix (id, {names}) VALUES (3, {string.Join(", ", Matrix.Select(c => c.B))})
            """);

        var streamed = await db.StreamAsync(s => s.Count == 3, TimeSpan.FromSeconds(30));
        await using var connection = await SnapshotConnection.OpenAsync(db.Config, CancellationToken.None);
        var table = (await SnapshotTableCatalog.LoadAsync(connection, "pub", CancellationToken.None)).Single();
        var chunk = await new ChunkReader(table, chunkSize: 10).ReadAsync(connection, null, CancellationToken.None);

        Assert.Equal(3, chunk.Rows.Count);
        for (var r = 0; r < 3; r++)
        {
            var expected = (string?[])streamed[r];
            var actual = SnapshotTestDatabase.Texts(chunk.Rows[r]);
            for (var c = 0; c < expected.Length; c++)
                Assert.True(expected[c] == actual[c], $"row {r + 1}, {(c == 0 ? "id" : Matrix[c - 1].Name)}: pgoutput sent <{expected[c]}>, the chunk read <{actual[c]}>");
        }

        Assert.Contains("public.mood", table.Columns[Array.FindIndex(Matrix, c => c.Name == "c_enum") + 1].SqlType);
    }
}
