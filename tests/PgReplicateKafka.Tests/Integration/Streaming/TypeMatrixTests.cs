using System.Text.Json;
using Npgsql;
using PgReplicateKafka.Configuration;

namespace PgReplicateKafka.Tests.Integration.Streaming;

/// <summary>
/// End-to-end proof of the value matrix in docs/event-format.md: every type, written through SQL, arrives in
/// Kafka as exactly the documented JSON text (compared raw, so escaping and number spelling count too).
/// </summary>
[Collection(IntegrationCollection.Name)]
public class TypeMatrixTests(PostgresFixture postgres, KafkaFixture kafka)
{
    /// <summary>A column: its SQL type, a first value (inserted) and a second (the update), each with the JSON expected for it.</summary>
    private sealed record Column(string Name, string Type, string A, string JsonA, string B, string JsonB);

    // Timestamptz literals without an offset are read in the writing session's zone: the insert runs under
    // America/St_Johns (-02:30 in October), the update under Asia/Kathmandu (+05:45); the server's zone is Asia/Kolkata.
    private static readonly Column[] Matrix =
    [
        new("c_bool", "bool", "true", "true", "false", "false"),
        new("c_int2", "int2", "-32768", "-32768", "32767", "32767"),
        new("c_int4", "int4", "-2147483648", "-2147483648", "2147483647", "2147483647"),
        new("c_int8", "int8", "-9223372036854775808", "-9223372036854775808", "9223372036854775807", "9223372036854775807"),
        new("c_oid", "oid", "4294967295", "4294967295", "0", "0"),
        new("c_xid", "xid", "'4294967295'", "4294967295", "'3'", "3"),
        new("c_float4", "float4", "0.1", "0.1", "3.4028235e38", "3.4028235e+38"),
        new("c_float4_special", "float4", "'Infinity'", "\"Infinity\"", "'-0'", "-0"),
        new("c_float8", "float8", "0.1", "0.1", "1e-300", "1e-300"),
        new("c_float8_17_digits", "float8", "0.1::float8 + 0.2", "0.30000000000000004", "1.5e300", "1.5e+300"),
        new("c_float8_special", "float8", "'NaN'", "\"NaN\"", "'-Infinity'", "\"-Infinity\""),
        new("c_numeric", "numeric", "1234567890123456789012345678901234567890", "\"1234567890123456789012345678901234567890\"", "'NaN'", "\"NaN\""),
        new("c_numeric_40_20", "numeric(40,20)", "-12345678901234567890.12345678901234567890", "\"-12345678901234567890.12345678901234567890\"", "0", "\"0.00000000000000000000\""),
        new("c_numeric_5_2", "numeric(5,2)", "12.3", "\"12.30\"", "-0.005", "\"-0.01\""),
        new("c_numeric_special", "numeric", "'Infinity'", "\"Infinity\"", "1e-20", "\"0.00000000000000000001\""),
        new("c_money", "money", "1234567.5", "\"$1,234,567.50\"", "-0.01", "\"-$0.01\""),
        new("c_text", "text", """E'say "hi" \\ C:\\dir\n😀 é <&>'""", """ "say \"hi\" \\ C:\\dir\n\uD83D\uDE00 é <&>" """.Trim(), "''", "\"\""),
        new("c_text_empty", "text", "''", "\"\"", "NULL", "null"),
        new("c_varchar", "varchar(20)", "'ünïcode'", "\"ünïcode\"", "E'tab\\there'", "\"tab\\there\""),
        new("c_bpchar", "char(6)", "'ab'", "\"ab    \"", "''", "\"      \""),
        new("c_name", "name", "'a_name'", "\"a_name\"", "'Zürich'", "\"Zürich\""),
        new("c_char", "\"char\"", "'x'", "\"x\"", "'\"'", "\"\\\"\""),
        new("c_citext", "citext", "'MiXeD Case'", "\"MiXeD Case\"", "'ß'", "\"ß\""),
        new("c_uuid", "uuid", "'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'", "\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\"", "'00000000-0000-0000-0000-000000000000'", "\"00000000-0000-0000-0000-000000000000\""),
        new("c_json", "json", """'{"b": 1,  "a": [1.50, null, "x\ny"]}'""", """{"b": 1,  "a": [1.50, null, "x\ny"]}""", """'"just a string"'""", "\"just a string\""),
        new("c_jsonb", "jsonb", """'{"n": 1.0e2, "a": {"b": [1, {"c": "q\"😀"}]}}'""", """{"a": {"b": [1, {"c": "q\"😀"}]}, "n": 100}""", "'[]'", "[]"),
        new("c_bytea", "bytea", """'\x00ff10'""", "\"AP8Q\"", "''", "\"\""),
        new("c_date", "date", "'2023-10-15'", "\"2023-10-15\"", "'0044-03-15 BC'", "\"0044-03-15 BC\""),
        new("c_date_special", "date", "'infinity'", "\"infinity\"", "'-infinity'", "\"-infinity\""),
        new("c_timestamp", "timestamp", "'2023-10-15 10:30:00.5'", "\"2023-10-15T10:30:00.5\"", "'0044-03-15 12:00:01.25 BC'", "\"0044-03-15T12:00:01.25 BC\""),
        new("c_timestamptz", "timestamptz", "'2023-10-15 10:30:00.123456'", "\"2023-10-15T13:00:00.123456Z\"", "'2024-01-01 00:00:00'", "\"2023-12-31T18:15:00Z\""),
        new("c_timestamptz_bc", "timestamptz", "'0044-03-15 12:00:00+00 BC'", "\"0044-03-15T12:00:00Z BC\"", "'0001-01-01 00:30:00+01'", "\"0001-12-31T23:30:00Z BC\""),
        new("c_timestamptz_special", "timestamptz", "'infinity'", "\"infinity\"", "'-infinity'", "\"-infinity\""),
        new("c_time", "time", "'10:30:00.123456'", "\"10:30:00.123456\"", "'24:00:00'", "\"24:00:00\""),
        new("c_timetz", "timetz", "'10:30:00-08'", "\"10:30:00-08:00\"", "'23:59:59.999999+05:45'", "\"23:59:59.999999+05:45\""),
        new("c_interval", "interval", "'1 year 2 months 3 days 4 hours 5 minutes 6.5 seconds'", "\"P1Y2M3DT4H5M6.5S\"", "'-1 year -2 days +03:00:00'", "\"P-1Y-2DT3H\""),
        new("c_enum", "mood", "'happy'", "\"happy\"", """'it''s "complicated"'""", """ "it's \"complicated\"" """.Trim()),
        new("c_hstore", "hstore", """'a=>1, "b c"=>NULL, "q\"x"=>"back\\slash"'""", """{"a":"1","b c":null,"q\"x":"back\\slash"}""", "''", "{}"),
        new("c_int_arr", "int[]", "'{1,NULL,3}'", "[1,null,3]", "'{{1,2},{3,4}}'", "[[1,2],[3,4]]"),
        new("c_text_arr", "text[]", """ARRAY['a b', NULL, 'NULL', '', E'q"\\', '{}']""", """["a b",null,"NULL","","q\"\\","{}"]""", "'{}'", "[]"),
        new("c_numeric_arr", "numeric[]", "'{1.50,NaN,-0.001}'", """["1.50","NaN","-0.001"]""", "'[0:1]={7,8}'", """["7","8"]"""),
        new("c_timestamptz_arr", "timestamptz[]", "ARRAY['2023-10-15 10:30:00+00', NULL, '0044-03-15 12:00:00+00 BC']::timestamptz[]", """["2023-10-15T10:30:00Z",null,"0044-03-15T12:00:00Z BC"]""",
            """'{{"2024-01-01 00:00:00+05:45",infinity},{NULL,"2000-01-01 00:00:00+00"}}'""", """[["2023-12-31T18:15:00Z","infinity"],[null,"2000-01-01T00:00:00Z"]]"""),
        new("c_jsonb_arr", "jsonb[]", """ARRAY['{"a": "x,\"y\"}"}', 'null', NULL, '[1, 2]']::jsonb[]""", """[{"a": "x,\"y\"}"},null,null,[1, 2]]""", """ARRAY[['1', '"s"'], ['{}', '[]']]::jsonb[]""", """[[1,"s"],[{},[]]]"""),
        new("c_domain", "positive_int", "42", "42", "2147483647", "2147483647"),
        new("c_domain_arr", "positive_int[]", "'{1,NULL}'", "[1,null]", "'{}'", "[]"),
        new("c_inet", "inet", "'192.168.0.1/24'", "\"192.168.0.1/24\"", "'::1'", "\"::1\""),
        new("c_cidr", "cidr", "'10.0.0.0/8'", "\"10.0.0.0/8\"", "'2001:db8::/32'", "\"2001:db8::/32\""),
        new("c_macaddr", "macaddr", "'08:00:2B:01:02:03'", "\"08:00:2b:01:02:03\"", "'08-00-2b-01-02-04'", "\"08:00:2b:01:02:04\""),
        new("c_macaddr8", "macaddr8", "'08:00:2b:01:02:03:04:05'", "\"08:00:2b:01:02:03:04:05\"", "'08:00:2b:01:02:03'", "\"08:00:2b:ff:fe:01:02:03\""),
        new("c_bit", "bit(4)", "B'1010'", "\"1010\"", "B'0000'", "\"0000\""),
        new("c_varbit", "varbit", "B'1'", "\"1\"", "B''", "\"\""),
        new("c_int4range", "int4range", "'[1,10)'", "\"[1,10)\"", "'(1,10]'", "\"[2,11)\""),
        new("c_tstzrange", "tstzrange", "'[2023-10-15 10:30:00+00,infinity)'", """ "[\"2023-10-15 10:30:00+00\",infinity)" """.Trim(), "'empty'", "\"empty\""),
        new("c_point", "point", "'(1.5,-2)'", "\"(1.5,-2)\"", "'(0.1,1e-300)'", "\"(0.1,1e-300)\""),
        new("c_box_arr", "box[]", "ARRAY['((0,0),(1,1))', '((2,2),(3,3))']::box[]", """["(1,1),(0,0)","(3,3),(2,2)"]""", "'{}'", "[]"),
        new("c_tsvector", "tsvector", "'a fat:2 cat'", "\"'a' 'cat' 'fat':2\"", "''", "\"\""),
        new("c_tsquery", "tsquery", "'fat & (rat | cat)'", "\"'fat' & ( 'rat' | 'cat' )\"", "'!x'", "\"!'x'\""),
        new("c_xml", "xml", """'<a b="1">x &amp; y</a>'""", """ "<a b=\"1\">x &amp; y</a>" """.Trim(), "'text only'", "\"text only\""),
        new("c_pg_lsn", "pg_lsn", "'16/B374D848'", "\"16/B374D848\"", "'0/0'", "\"0/0\""),
        new("c_composite", "pair", """ROW(1, 'a "b", c')""", """ "(1,\"a \"\"b\"\", c\")" """.Trim(), "ROW(NULL, '')", """ "(,\"\")" """.Trim()),
    ];

    private static readonly string MatrixSetup = $"""
        CREATE EXTENSION hstore;
        CREATE EXTENSION citext;
        CREATE TYPE mood AS ENUM ('sad', 'happy', 'it''s "complicated"');
        CREATE DOMAIN positive_int AS int CHECK (VALUE > 0);
        CREATE TYPE pair AS (n int, label text);
        CREATE TABLE matrix (id int PRIMARY KEY, {string.Join(", ", Matrix.Select(c => $"{c.Name} {c.Type}"))});
        ALTER TABLE matrix REPLICA IDENTITY FULL
        """;

    private static readonly string InsertA =
        $"SET TIME ZONE 'America/St_Johns'; INSERT INTO matrix (id, {string.Join(", ", Matrix.Select(c => c.Name))}) VALUES (1, {string.Join(", ", Matrix.Select(c => c.A))})";

    [Fact]
    public async Task Insert_update_and_delete_carry_every_type_as_its_documented_json()
    {
        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka, MatrixSetup);
        await run.StartAsync();
        await run.ExecuteAsync(InsertA);
        await run.ExecuteAsync("INSERT INTO matrix (id) VALUES (2)");
        await run.ExecuteAsync($"SET TIME ZONE 'Asia/Kathmandu'; UPDATE matrix SET {string.Join(", ", Matrix.Select(c => $"{c.Name} = {c.B}"))} WHERE id = 1");
        await run.ExecuteAsync("DELETE FROM matrix WHERE id = 1");

        var events = await ConsumeRawAsync(run.Topic("matrix"), 5); // and the delete's tombstone
        string[] rowA = [.. Matrix.Select(c => $"{c.Name} = {c.JsonA}")];
        string[] rowB = [.. Matrix.Select(c => $"{c.Name} = {c.JsonB}")];
        string[] rowNull = [.. Matrix.Select(c => $"{c.Name} = null")];

        Assert.Equal(["INSERT", "INSERT", "UPDATE", "DELETE"], events.Select(e => e.Op));
        Assert.Equal(["""{"id":1}""", """{"id":2}""", """{"id":1}""", """{"id":1}"""], events.Select(e => e.Key));

        Assert.Null(events[0].Before);
        AssertColumns(["id = 1", .. rowA], events[0].After);
        AssertColumns(["id = 2", .. rowNull], events[1].After);
        AssertColumns(["id = 1", .. rowA], events[2].Before);
        AssertColumns(["id = 1", .. rowB], events[2].After);
        AssertColumns(["id = 1", .. rowB], events[3].Before);
        Assert.Null(events[3].After);
    }

    [Fact]
    public async Task Server_and_database_defaults_for_output_settings_do_not_change_the_json()
    {
        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka, MatrixSetup);

        // Per-database defaults apply to every new session, the walsender's included, unless it overrides them.
        foreach (var setting in new[] { "DateStyle = 'SQL, DMY'", "IntervalStyle = 'postgres_verbose'", "extra_float_digits = 0", "TimeZone = 'Pacific/Chatham'", "bytea_output = 'escape'" })
            await run.ExecuteAsync($"ALTER DATABASE \"{run.Database}\" SET {setting}");
        await run.StartAsync();
        await run.ExecuteAsync(InsertA);

        var events = await ConsumeRawAsync(run.Topic("matrix"), 1);
        AssertColumns(["id = 1", .. Matrix.Select(c => $"{c.Name} = {c.JsonA}")], events[0].After);
    }

    [Fact]
    public async Task Format_options_render_numeric_as_numbers_json_as_strings_and_bytea_as_hex()
    {
        await using var run = await ReplicatorRun.CreateAsync(
            postgres,
            kafka,
            "CREATE TABLE fmt (id numeric PRIMARY KEY, n numeric, n_special numeric, n_arr numeric[], j json, jb jsonb, jb_arr jsonb[], b bytea, b_arr bytea[])",
            config => new ReplicatorConfig
            {
                Postgres = config.Postgres,
                Snapshot = config.Snapshot,
                Kafka = config.Kafka,
                Replication = config.Replication,
                Format = new FormatConfig { Numeric = NumericFormat.Number, Json = JsonFormat.String, Binary = BinaryFormat.Hex },
            });
        await run.StartAsync();
        await run.ExecuteAsync("""
            INSERT INTO fmt VALUES (1.50, -1234567890123456789012345678901234567890.5, 'NaN', '{1.5,-Infinity,NULL}',
                '{"a": [1, "x"]}', '{"k": "v\"q"}', ARRAY['1', '{"a": 2}']::jsonb[], '\x00ff10', ARRAY['\x00'::bytea, '\xff'::bytea, ''::bytea])
            """);

        var events = await ConsumeRawAsync(run.Topic("fmt"), 1);
        Assert.Equal("""{"id":1.50}""", events[0].Key);
        AssertColumns(
            [
                "id = 1.50",
                "n = -1234567890123456789012345678901234567890.5",
                "n_special = \"NaN\"",
                "n_arr = [1.5,\"-Infinity\",null]",
                """j = "{\"a\": [1, \"x\"]}" """.Trim(),
                """jb = "{\"k\": \"v\\\"q\"}" """.Trim(),
                """jb_arr = ["1","{\"a\": 2}"]""",
                "b = \"00ff10\"",
                """b_arr = ["00","ff",""]""",
            ],
            events[0].After);
    }

    [Fact]
    public async Task Types_created_while_streaming_convert_like_types_known_at_start()
    {
        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka, "CREATE TABLE late (id int PRIMARY KEY)");
        await run.StartAsync();
        await run.ExecuteAsync("INSERT INTO late VALUES (1)");

        // A domain over int prints like int and an enum array like an array: as unknown types both would be plain strings.
        await run.ExecuteAsync("""
            CREATE DOMAIN late_int AS int;
            CREATE TYPE late_mood AS ENUM ('calm', 'wild');
            ALTER TABLE late ADD COLUMN d late_int, ADD COLUMN d_arr late_int[], ADD COLUMN moods late_mood[];
            INSERT INTO late VALUES (2, 7, '{8,NULL}', '{calm,wild}')
            """);

        var events = await ConsumeRawAsync(run.Topic("late"), 2);
        AssertColumns(["id = 1"], events[0].After);
        AssertColumns(["id = 2", "d = 7", "d_arr = [8,null]", """moods = ["calm","wild"]"""], events[1].After);
    }

    /// <summary>
    /// The stream can carry a change before the transaction that created its column's type is visible to a catalog
    /// query: its commit record is decoded first. Here it is held in that state by a synchronous-replication wait for a
    /// standby that does not exist; the type must be found once it is visible, not taken as text for good.
    /// </summary>
    [Fact]
    public async Task A_type_whose_creation_is_streamed_before_it_is_visible_converts_once_it_is()
    {
        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka, "CREATE TABLE held (id int PRIMARY KEY)");
        await run.StartAsync();
        await using (await HeldCommit.StartAsync(run, "CREATE DOMAIN held_int AS int; ALTER TABLE held ADD COLUMN d held_int; INSERT INTO held VALUES (1, 7)"))
        {
            // The change is streamed by now; then the commit becomes visible.
            await Task.Delay(1500);
        }

        var events = await ConsumeRawAsync(run.Topic("held"), 1);
        AssertColumns(["id = 1", "d = 7"], events[0].After);
    }

    /// <summary>
    /// While the receive loop waits for such a type to become visible, transactions it received before are not held
    /// back with it: both arrive in one burst at a restart, the first one complete, the second one's type not visible.
    /// </summary>
    [Fact]
    public async Task A_transaction_received_before_a_wait_for_a_type_is_delivered_without_waiting()
    {
        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka, "CREATE TABLE first (id int PRIMARY KEY); CREATE TABLE held (id int PRIMARY KEY)");
        await run.StartAsync();
        await run.StopAsync();
        await run.ExecuteAsync("INSERT INTO first VALUES (1)");
        await using (await HeldCommit.StartAsync(run, "CREATE DOMAIN later_int AS int; ALTER TABLE held ADD COLUMN d later_int; INSERT INTO held VALUES (1, 7)"))
        {
            await run.StartAsync();
            var first = await KafkaTestConsumer.ConsumeAsync(kafka.BootstrapServers, [run.Topic("first")], 1, TimeSpan.FromSeconds(6), TimeSpan.FromMilliseconds(200));
            Assert.True(first.Count == 1, "the transaction before the held one waited with it");
        }

        var events = await ConsumeRawAsync(run.Topic("held"), 1);
        AssertColumns(["id = 1", "d = 7"], events[0].After);
    }

    /// <summary>
    /// A transaction held after its commit record, before it is visible: its commit waits for a synchronous standby that
    /// does not exist. Disposing makes it visible (cancelling the wait keeps the commit) and restores the settings.
    /// </summary>
    private sealed class HeldCommit : IAsyncDisposable
    {
        private readonly ReplicatorRun _run;
        private readonly NpgsqlConnection _connection;
        private NpgsqlCommand? _command;
        private Task? _committing;

        private HeldCommit(ReplicatorRun run, NpgsqlConnection connection) => (_run, _connection) = (run, connection);

        public static async Task<HeldCommit> StartAsync(ReplicatorRun run, string sql)
        {
            await run.Cluster.ExecuteAsync("ALTER SYSTEM SET synchronous_commit = local");
            await run.Cluster.ExecuteAsync("ALTER SYSTEM SET synchronous_standby_names = 'pgrk_absent_standby'");
            await run.Cluster.ExecuteAsync("SELECT pg_reload_conf()");
            var held = new HeldCommit(run, new NpgsqlConnection(run.Cluster.ConnectionString(run.Database)));
            try
            {
                await held._connection.OpenAsync();
                await using (var on = new NpgsqlCommand("SET synchronous_commit = on", held._connection))
                    await on.ExecuteNonQueryAsync();
                held._command = new NpgsqlCommand(sql, held._connection);
                held._committing = held._command.ExecuteNonQueryAsync();
                var deadline = DateTime.UtcNow.AddSeconds(20);
                while (await run.ScalarAsync<long>($"SELECT count(*) FROM pg_stat_activity WHERE pid = {held._connection.ProcessID} AND wait_event = 'SyncRep'") == 0)
                {
                    Assert.True(DateTime.UtcNow < deadline, "the held commit never reached its synchronous-replication wait");
                    await Task.Delay(20);
                }

                return held;
            }
            catch
            {
                await held.DisposeAsync();
                throw;
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (_committing is not null)
            {
                await _run.Cluster.ExecuteAsync($"SELECT pg_cancel_backend({_connection.ProcessID})");
                await _committing;
            }

            if (_command is not null)
                await _command.DisposeAsync();
            await _connection.DisposeAsync();
            await _run.Cluster.ExecuteAsync("ALTER SYSTEM RESET synchronous_standby_names");
            await _run.Cluster.ExecuteAsync("ALTER SYSTEM RESET synchronous_commit");
            await _run.Cluster.ExecuteAsync("SELECT pg_reload_conf()");
        }
    }

    /// <summary>One consumed event, with the raw JSON text of the key and of each column, as a consumer receives them.</summary>
    private sealed record RawEvent(string Op, string? Key, string[]? Before, string[]? After, ulong Lsn);

    private async Task<List<RawEvent>> ConsumeRawAsync(string topic, int expected)
    {
        var consumed = await KafkaTestConsumer.ConsumeAsync(kafka.BootstrapServers, [topic], expected, TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(500));
        Assert.Equal(expected, consumed.Count);
        var events = new List<RawEvent>();
        foreach (var message in consumed.Where(m => m.Value is not null))
        {
            using var document = JsonDocument.Parse(message.Value!);
            var root = document.RootElement;
            events.Add(new RawEvent(
                root.GetProperty("op").GetString()!,
                message.Key,
                Columns(root.GetProperty("before")),
                Columns(root.GetProperty("after")),
                (ulong)NpgsqlTypes.NpgsqlLogSequenceNumber.Parse(root.GetProperty("source").GetProperty("lsn").GetString()!)));
        }

        return [.. events.OrderBy(e => e.Lsn)];
    }

    private static void AssertColumns(string[] expected, string[]? actual)
    {
        Assert.NotNull(actual);
        Assert.Equal(expected, actual);
    }

    // GetRawText returns the element's text exactly as the event holds it.
    private static string[]? Columns(JsonElement row) =>
        row.ValueKind == JsonValueKind.Null ? null : [.. row.EnumerateObject().Select(p => $"{p.Name} = {p.Value.GetRawText()}")];
}
