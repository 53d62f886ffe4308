using System.Numerics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Source.Snapshot;
using PgReplicateKafka.Tests.Integration.Snapshot;

namespace PgReplicateKafka.Tests.Integration.Streaming;

/// <summary>
/// Values the type matrix (<see cref="TypeMatrixTests"/>) leaves out, as other teams' schemas hold them: user types in
/// another schema, composites and arrays of them, multiranges, extreme numerics and timestamps, control characters, a
/// TOASTed value left unchanged, non-finite points. A row read by the snapshot and the same row streamed carry exactly
/// the expected JSON for every column, in both envelopes (compared as raw text, so escaping and number spelling count).
/// </summary>
[Collection(IntegrationCollection.Name)]
public class ValueVarietyTests(PostgresFixture postgres, KafkaFixture kafka)
{
    /// <summary>A column, the SQL of its value, and the JSON expected in the native and (when it differs) the Debezium envelope.</summary>
    private sealed record Column(string Name, string Type, string Sql, string Native, string? Debezium = null);

    // Not compressible, so PostgreSQL stores it out of line: an UPDATE that leaves it alone does not resend it.
    private static readonly string Big = string.Concat(Enumerable.Range(0, 10_000).Select(i => Convert.ToHexStringLower(MD5.HashData(Encoding.ASCII.GetBytes(i.ToString(System.Globalization.CultureInfo.InvariantCulture))))));

    private static readonly string Controls = new([.. Enumerable.Range(1, 127).Select(i => (char)i)]);

    private static readonly Column[] Columns =
    [
        new("c_enum", "\"Ext Types\".\"Mood ☺\"", """'say "hi"'""", """ "say \"hi\"" """.Trim()),
        new("c_enum_arr", "\"Ext Types\".\"Mood ☺\"[]", """ARRAY['it''s', '😀', 'a,b', ' ', NULL]::"Ext Types"."Mood ☺"[]""", """["it's","\uD83D\uDE00","a,b"," ",null]"""),
        new("c_domain", "\"Ext Types\".posint", "7", "7"),
        new("c_domain_arr", "\"Ext Types\".posint[]", "'{1,NULL,3}'", "[1,null,3]"),
        new("c_domain_numeric", "\"Ext Types\".price", "3.5", "\"3.50\"", """{"scale":1,"value":"Iw=="}"""),
        new("c_composite", "\"Ext Types\".dim", """ROW(1.5, NULL, 'a "q", b')""", """ "(1.50,,\"a \"\"q\"\", b\")" """.Trim()),
        new("c_composite_arr", "\"Ext Types\".dim[]", """ARRAY[ROW(1, 2, 'x'), NULL]::"Ext Types".dim[]""", """["(1.00,2,x)",null]"""),
        new("c_int_3d", "int[]", "'{{{1,2},{3,4}},{{5,6},{7,NULL}}}'", "[[[1,2],[3,4]],[[5,6],[7,null]]]"),
        new("c_int_bounds", "int[]", "'[-2:0]={1,NULL,3}'", "[1,null,3]"),
        new("c_text_arr", "text[]", """ARRAY[NULL, 'NULL', '', ' x ', E'a\\b"c', '{}', 'é😀']""", """[null,"NULL",""," x ","a\\b\"c","{}","é\uD83D\uDE00"]"""),
        new("c_int4range", "int4range", "'(1,10]'", "\"[2,11)\""),
        new("c_tstzrange", "tstzrange", "'[2024-01-01 00:00:00+05,infinity)'", """ "[\"2023-12-31 19:00:00+00\",infinity)" """.Trim()),
        new("c_multirange", "int4multirange", "'{[1,2), [5,7)}'", "\"{[1,2),[5,7)}\""),
        new("c_datemultirange", "datemultirange", "'{[2024-01-01,2024-02-01), [2024-03-01,infinity)}'", "\"{[2024-01-01,2024-02-01),[2024-03-01,infinity)}\""),
        new("c_multirange_arr", "int4multirange[]", "ARRAY['{[1,2)}'::int4multirange, '{}']", """["{[1,2)}","{}"]"""),
        new("c_numeric_nan", "numeric", "'NaN'", "\"NaN\"", "null"),
        new("c_numeric_inf", "numeric", "'Infinity'", "\"Infinity\"", "null"),
        new("c_numeric_ninf", "numeric", "'-Infinity'", "\"-Infinity\"", "null"),
        new("c_numeric_huge", "numeric", "1e400 + 0.000001", $"\"1{new string('0', 400)}.000001\"",
            $$"""{"scale":6,"value":"{{Convert.ToBase64String((BigInteger.Pow(10, 406) + 1).ToByteArray(isUnsigned: false, isBigEndian: true))}}"}"""),
        new("c_numeric_12_4", "numeric(12,4)", "-1.5", "\"-1.5000\"", "\"xWg=\""),
        new("c_numeric_negative_scale", "numeric(5,-2)", "12345", "\"12300\"", "\"MAw=\""),
        new("c_numeric_arr", "numeric(6,2)[]", "'{1.5,NULL,-0.01}'", """["1.50",null,"-0.01"]""", """["AJY=",null,"/w=="]"""),
        new("c_timestamp_3", "timestamp(3)", "'2024-01-01 10:00:00.1239'", "\"2024-01-01T10:00:00.124\"", "1704103200124"),
        new("c_timestamp_ninf", "timestamp", "'-infinity'", "\"-infinity\"", "-9223372036832400000"),
        new("c_timestamp_bc", "timestamp", "'0044-03-15 12:00:00 BC'", "\"0044-03-15T12:00:00 BC\"", "-63517780800000000"),
        new("c_timestamptz_0", "timestamptz(0)", "'2024-01-01 10:00:00.6+00'", "\"2024-01-01T10:00:01Z\""),
        new("c_timestamptz_last", "timestamptz", "'294276-12-31 23:59:59.999999+00'", "\"294276-12-31T23:59:59.999999Z\"", "\"+294276-12-31T23:59:59.999999Z\""),
        new("c_timestamptz_bc", "timestamptz", "'0044-03-15 12:00:00+00 BC'", "\"0044-03-15T12:00:00Z BC\"", "\"-0043-03-15T12:00:00.000000Z\""),
        new("c_date_inf", "date", "'infinity'", "\"infinity\"", "-2147472692"),
        new("c_date_bc", "date", "'4713-01-01 BC'", "\"4713-01-01 BC\"", "-2440550"),
        new("c_date_last", "date", "'5874897-12-31'", "\"5874897-12-31\"", "2145042905"),
        new("c_timetz", "timetz", "'00:00:00+14'", "\"00:00:00+14:00\"", "\"10:00:00Z\""),
        new("c_timetz_seconds", "timetz", "'12:00:00+05:53:28'", "\"12:00:00+05:53:28\"", "\"06:06:32Z\""),
        new("c_interval", "interval", "'1 year 2 months 3 days 04:05:06.789'", "\"P1Y2M3DT4H5M6.789S\"", "37091106789000"),
        new("c_interval_negative", "interval", "'-3 months 2 days -00:00:01'", "\"P-3M2DT-1S\"", "-7716601000000"),
        new("c_money", "money", "'-92233720368547758.08'", "\"-$92,233,720,368,547,758.08\"", "\"gAAAAAAAAAA=\""),
        new("c_bytea_empty", "bytea", "''", "\"\""),
        new("c_bytea", "bytea", """'\x00ff10'""", "\"AP8Q\""),
        new("c_varbit", "varbit", "B'101'", "\"101\"", "\"BQ==\""),
        new("c_bit_12", "bit(12)", "B'000000000101'", "\"000000000101\"", "\"BQ==\""),
        new("c_tsvector", "tsvector", "'a:1 b''c:2'", "\"'a':1 'b''c':2\""),
        new("c_tsquery", "tsquery", "'a & !b <-> c'", "\"'a' & !'b' <-> 'c'\""),
        new("c_xml", "xml", "'<a>ü &amp; <b/></a>'", "\"<a>ü &amp; <b/></a>\""),
        new("c_json", "json", """'{"e": "\u00e9\ud83d\ude00\u0000", "s": "\ud83d", "n": 1e400}'""",
            """{"e": "\u00e9\ud83d\ude00\u0000", "s": "\ud83d", "n": 1e400}""",
            """ "{\"e\": \"\\u00e9\\ud83d\\ude00\\u0000\", \"s\": \"\\ud83d\", \"n\": 1e400}" """.Trim()),
        new("c_jsonb", "jsonb", """'{"e": "\u00e9\ud83d\ude00", "t": "tab\there"}'""", """{"e": "é😀", "t": "tab\there"}""",
            """ "{\"e\": \"é\uD83D\uDE00\", \"t\": \"tab\\there\"}" """.Trim()),
        new("c_text_controls", "text", "(SELECT string_agg(chr(i), '' ORDER BY i) FROM generate_series(1, 127) i)", Escaped(Controls)),
        new("c_text_emoji", "text", @"E'😀 \uFFFF \\uD800'", """ "\uD83D\uDE00 \uFFFF \\uD800" """.Trim()),
        new("c_big", "text", "(SELECT string_agg(md5(i::text), '' ORDER BY i) FROM generate_series(0, 9999) i)", $"\"{Big}\""),
        new("c_inet", "inet", "'::ffff:1.2.3.4/128'", "\"::ffff:1.2.3.4\""),
        new("c_cidr", "cidr", "'2001:db8::/32'", "\"2001:db8::/32\""),
        new("c_macaddr8", "macaddr8", "'08:00:2b:01:02:03'", "\"08:00:2b:ff:fe:01:02:03\""),
        new("c_point", "point", "'(1.5,-2)'", "\"(1.5,-2)\"", """{"x":1.5,"y":-2,"wkb":"AQEAAAAAAAAAAAD4PwAAAAAAAADA","srid":null}"""),
        new("c_point_nonfinite", "point", "'(Infinity,NaN)'", "\"(Infinity,NaN)\"", """{"x":"Infinity","y":"NaN","wkb":"AQEAAAAAAAAAAADwfwAAAAAAAPh/","srid":null}"""),
        new("c_line", "line", "'{1,-1,0}'", "\"{1,-1,0}\""),
        new("c_lseg", "lseg", "'[(0,0),(1,1)]'", "\"[(0,0),(1,1)]\""),
        new("c_box", "box", "'((0,0),(1,1))'", "\"(1,1),(0,0)\""),
        new("c_path", "path", "'[(0,0),(1,1),(2,0)]'", "\"[(0,0),(1,1),(2,0)]\""),
        new("c_polygon", "polygon", "'((0,0),(1,1),(2,0))'", "\"((0,0),(1,1),(2,0))\""),
        new("c_circle", "circle", "'<(0,0),1.5>'", "\"<(0,0),1.5>\""),
        new("c_oid", "oid", "4294967295", "4294967295"),
        new("c_xid", "xid", "'4294967295'", "4294967295"),
        new("c_xid8", "xid8", "'18446744073709551615'", "\"18446744073709551615\""),
        new("c_pg_lsn", "pg_lsn", "'FFFFFFFF/FFFFFFFF'", "\"FFFFFFFF/FFFFFFFF\""),
    ];

    private static readonly string Setup = $"""
        CREATE SCHEMA "Ext Types";
        CREATE TYPE "Ext Types"."Mood ☺" AS ENUM ('it''s', 'say "hi"', 'ünï', '😀', 'a,b', ' ');
        CREATE TYPE "Ext Types".dim AS (w numeric(6,2), h numeric, label text);
        CREATE DOMAIN "Ext Types".posint AS int CHECK (VALUE > 0);
        CREATE DOMAIN "Ext Types".price AS numeric(10,2);
        CREATE TABLE vals (id int PRIMARY KEY, {string.Join(", ", Columns.Select(c => $"{c.Name} {c.Type}"))});
        {Insert(1)}
        """;

    private static string Insert(int id) =>
        $"INSERT INTO vals (id, {string.Join(", ", Columns.Select(c => c.Name))}) VALUES ({id}, {string.Join(", ", Columns.Select(c => c.Sql))})";

    /// <summary>A string as the writers escape it: quote, backslash and control characters (DEL included); everything else as it is.</summary>
    private static string Escaped(string text)
    {
        var json = new StringBuilder("\"");
        foreach (var c in text)
        {
            json.Append(c switch
            {
                '"' => "\\\"",
                '\\' => "\\\\",
                '\b' => "\\b",
                '\t' => "\\t",
                '\n' => "\\n",
                '\f' => "\\f",
                '\r' => "\\r",
                < ' ' or '\u007F' => $"\\u{(int)c:X4}",
                _ => c.ToString(),
            });
        }

        return json.Append('"').ToString();
    }

    private static Func<ReplicatorConfig, ReplicatorConfig> Configure(bool debezium, bool newTables = true) => c => new ReplicatorConfig
    {
        Postgres = c.Postgres,
        Kafka = c.Kafka,
        Replication = c.Replication,
        Snapshot = new SnapshotConfig { Mode = SnapshotMode.Initial, NewTables = newTables },
        Format = debezium ? new FormatConfig { Envelope = EnvelopeFormat.Debezium, Schemas = true } : new FormatConfig(),
    };

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_snapshotted_row_and_a_streamed_row_carry_every_value_as_expected(bool debezium)
    {
        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka, Setup, Configure(debezium));
        var logs = new CapturingLoggerFactory();
        await run.StartAsync(logs);
        await SnapshotPipelineTests.WaitForLogAsync(logs, "Snapshot of public.vals done", TimeSpan.FromSeconds(30));
        await run.ExecuteAsync(Insert(2));
        await run.ExecuteAsync("UPDATE vals SET c_domain = 8 WHERE id = 2"); // c_big is left alone, so not resent

        var consumed = await KafkaTestConsumer.ConsumeAsync(kafka.BootstrapServers, [run.Topic("vals")], 3, TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(500));
        Assert.Equal(3, consumed.Count);
        var events = consumed.Select(m => JsonDocument.Parse(m.Value!).RootElement).ToDictionary(e => Op(Payload(e, debezium)));
        var (read, insert, update) = debezium ? (events["r"], events["c"], events["u"]) : (events["READ"], events["INSERT"], events["UPDATE"]);

        string[] expected = [.. Columns.Select(c => $"{c.Name} = {(debezium ? c.Debezium ?? c.Native : c.Native)}")];
        AssertColumns(["id = 1", .. expected], Payload(read, debezium));
        AssertColumns(["id = 2", .. expected], Payload(insert, debezium));
        string[] updated = [.. expected.Select(c => c.StartsWith("c_domain =", StringComparison.Ordinal) ? "c_domain = 8" : c)];
        AssertColumns(
            debezium
                ? ["id = 2", .. updated.Select(c => c.StartsWith("c_big =", StringComparison.Ordinal) ? "c_big = \"__debezium_unavailable_value\"" : c)]
                : ["id = 2", .. updated.Where(c => !c.StartsWith("c_big =", StringComparison.Ordinal))],
            Payload(update, debezium));

        if (debezium)
        {
            // A READ event describes the table as the stream's events do, modifiers (scale, precision, length) included.
            Assert.Equal(insert.GetProperty("schema").GetRawText(), read.GetProperty("schema").GetRawText());
            Assert.Equal(insert.GetProperty("schema").GetRawText(), update.GetProperty("schema").GetRawText());
        }
    }

    /// <summary>
    /// A table added to the publication while streaming, with types created after the start, snapshotted on request
    /// before any change of it streamed: its READ event converts those types as the stream's events do.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_table_published_later_is_snapshotted_with_the_types_created_after_the_start(bool debezium)
    {
        await using var run = await ReplicatorRun.CreateAsync(
            postgres, kafka, "CREATE TABLE first (id int PRIMARY KEY)", Configure(debezium, newTables: false), publish: "TABLE first");
        var logs = new CapturingLoggerFactory();
        await run.StartAsync(logs);
        await SnapshotPipelineTests.WaitForLogAsync(logs, "Snapshot of public.first done", TimeSpan.FromSeconds(30));
        await run.ExecuteAsync("""
            CREATE TYPE late_mood AS ENUM ('calm', 'wild');
            CREATE DOMAIN late_int AS int;
            CREATE TABLE late (id int PRIMARY KEY, m late_mood, ms late_mood[], d late_int, ds late_int[]);
            INSERT INTO late VALUES (1, 'wild', '{calm,NULL}', 5, '{6,NULL}');
            ALTER PUBLICATION pub ADD TABLE late
            """);
        await using (var connection = new Npgsql.NpgsqlConnection(run.Cluster.ConnectionString(run.Database)))
        {
            await connection.OpenAsync();
            await Watermarks.EmitAsync(connection, new SnapshotRequest("public.late", null), CancellationToken.None);
        }

        await SnapshotPipelineTests.WaitForLogAsync(logs, "Snapshot of public.late done", TimeSpan.FromSeconds(30));
        await run.ExecuteAsync("INSERT INTO late VALUES (2, 'wild', '{calm,NULL}', 5, '{6,NULL}')");

        var consumed = await KafkaTestConsumer.ConsumeAsync(kafka.BootstrapServers, [run.Topic("late")], 2, TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(500));
        Assert.Equal(2, consumed.Count);
        var events = consumed.Select(m => JsonDocument.Parse(m.Value!).RootElement).ToDictionary(e => Op(Payload(e, debezium)));
        var (read, insert) = debezium ? (events["r"], events["c"]) : (events["READ"], events["INSERT"]);
        string[] expected = ["m = \"wild\"", """ms = ["calm",null]""", "d = 5", "ds = [6,null]"];
        AssertColumns(["id = 1", .. expected], Payload(read, debezium));
        AssertColumns(["id = 2", .. expected], Payload(insert, debezium));
        if (debezium)
            Assert.Equal(insert.GetProperty("schema").GetRawText(), read.GetProperty("schema").GetRawText()); // the enum's labels included
    }

    private static JsonElement Payload(JsonElement root, bool debezium) => debezium ? root.GetProperty("payload") : root;

    private static string Op(JsonElement payload) => payload.GetProperty("op").GetString()!;

    private static void AssertColumns(string[] expected, JsonElement payload)
    {
        // GetRawText returns each value exactly as the event holds it.
        string[] actual = [.. payload.GetProperty("after").EnumerateObject().Select(p => $"{p.Name} = {p.Value.GetRawText()}")];
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
            Assert.True(expected[i] == actual[i], $"{Op(payload)}: expected <{Shorten(expected[i])}>, got <{Shorten(actual[i])}>");
    }

    private static string Shorten(string text) => text.Length > 300 ? text[..150] + "…" + text[^150..] : text;
}
