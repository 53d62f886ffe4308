using System.Text.Json;

namespace PgReplicateKafka.Tests.Integration.Operations;

/// <summary>check, status, slot drop and run's start-up failures through the real executable: exit codes and messages.</summary>
[Collection(IntegrationCollection.Name)]
public class CliOperationsTests(PostgresFixture postgres, KafkaFixture kafka)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private string Toml(string database, string? passwordLine = null, string? brokers = null, string slot = "cli_slot") => $"""
        [postgres]
        host = "{postgres.Cluster.Host}"
        port = {postgres.Cluster.Port}
        database = "{database}"
        username = "{postgres.Cluster.Username}"
        {passwordLine ?? $"password = \"{postgres.Cluster.Password}\""}
        publication = "pub"
        slot_name = "{slot}"

        [kafka]
        brokers = ["{brokers ?? kafka.BootstrapServers.Split(',')[0]}"]
        connect_timeout_secs = 2
        """;

    private static async Task<string> WriteAsync(string toml)
    {
        var path = Path.Combine(Path.GetTempPath(), $"pgrk-{Guid.NewGuid():N}.toml");
        await File.WriteAllTextAsync(path, toml);
        return path;
    }

    private static Task<(int ExitCode, string Output)> RunAsync(string[] args, Dictionary<string, string>? environment = null) =>
        CliProcess.RunAsync(args, Timeout, environment);

    private async Task<string> ReadyDatabaseAsync()
    {
        var database = await postgres.CreateDatabaseAsync();
        await postgres.Cluster.ExecuteAsync("CREATE TABLE items (id int PRIMARY KEY); CREATE PUBLICATION pub FOR ALL TABLES", database);
        return database;
    }

    [Theory]
    [InlineData("check", "[postgres]\nhost = \"x\"\nport = = 1\n", "line 3, column", "not valid TOML")]
    [InlineData("run", "[postgres]\nhots = \"x\"\n", "Unknown key [postgres] hots", "Did you mean 'host'?")]
    [InlineData("run", "[postgres]\nusername = \"u\"\npublication = \"p\"\n[kafka]\nbrokers = [\"k:9092\"]\n", "[postgres] database is required", "PGRK_POSTGRES_DATABASE")]
    [InlineData("check", "[postgres]\ndatabase = \"d\"\nusername = \"u\"\npublication = \"p\"\nport = \"5432\"\n[kafka]\nbrokers = [\"k:9092\"]\n", "[postgres] port", "must be an integer in 1..65535")]
    [InlineData("check", "[postgres]\ndatabase = \"d\"\nusername = \"u\"\npublication = \"p\"\nport = 70000\n[kafka]\nbrokers = [\"k:9092\"]\n", "[postgres] port", "70000")]
    [InlineData("run", "[postgres]\ndatabase = \"d\"\nusername = \"u\"\npublication = \"p\"\nslot_name = \"My-Slot\"\n[kafka]\nbrokers = [\"k:9092\"]\n", "[postgres] slot_name", "lower-case letters")]
    [InlineData("check", "[postgres]\ndatabase = \"d\"\nusername = \"u\"\npublication = \"1pub\"\n[kafka]\nbrokers = [\"k:9092\"]\n", "[postgres] publication", "PostgreSQL identifier")]
    public async Task Bad_configuration_exits_2_naming_the_problem(string command, string toml, string words, string fix)
    {
        var (code, output) = await RunAsync([command, "--config", await WriteAsync(toml)]);

        Assert.True(code == 2, $"exit {code}:\n{output}");
        Assert.Contains(words, output);
        Assert.Contains(fix, output);
    }

    [Fact]
    public async Task Missing_config_file_exits_2_naming_it()
    {
        var (code, output) = await RunAsync(["status", "--config", "/nonexistent/pgrk.toml"]);

        Assert.True(code == 2, $"exit {code}:\n{output}");
        Assert.Contains("'/nonexistent/pgrk.toml' does not exist", output);
    }

    [Fact]
    public async Task Check_passes_with_exit_0_printing_one_line_per_check()
    {
        var database = await ReadyDatabaseAsync();

        var (code, output) = await RunAsync(["check", "--config", await WriteAsync(Toml(database))]);

        Assert.True(code == 0, $"exit {code}:\n{output}");
        Assert.Contains("ok   configuration", output);
        Assert.Contains("ok   postgresql    wal_level: logical", output);
        Assert.Contains("ok   kafka         brokers:", output);
        Assert.Contains("All checks passed", output);
    }

    [Fact]
    public async Task Check_with_a_wrong_password_exits_3_without_echoing_it()
    {
        var database = await ReadyDatabaseAsync();
        var toml = Toml(database, passwordLine: "password = \"Not-The-Password-4417\"");

        var (code, output) = await RunAsync(["check", "--config", await WriteAsync(toml)]);

        Assert.True(code == 3, $"exit {code}:\n{output}");
        Assert.Contains("FAIL postgresql    connection:", output);
        Assert.Contains("password authentication failed", output);
        Assert.DoesNotContain("Not-The-Password-4417", output);
    }

    [Fact]
    public async Task Password_may_come_from_PGPASSWORD_or_a_pgpass_file_when_none_is_configured()
    {
        var database = await ReadyDatabaseAsync();
        var config = await WriteAsync(Toml(database, passwordLine: ""));

        var withoutAny = await RunAsync(["check", "--config", config]);
        Assert.True(withoutAny.ExitCode == 3, $"exit {withoutAny.ExitCode}:\n{withoutAny.Output}");

        var fromVariable = await RunAsync(["check", "--config", config], new() { ["PGPASSWORD"] = postgres.Cluster.Password });
        Assert.True(fromVariable.ExitCode == 0, $"PGPASSWORD: exit {fromVariable.ExitCode}:\n{fromVariable.Output}");

        var pgpass = Path.Combine(Path.GetTempPath(), $"pgrk-{Guid.NewGuid():N}.pgpass");
        await File.WriteAllTextAsync(pgpass, $"{postgres.Cluster.Host}:{postgres.Cluster.Port}:*:{postgres.Cluster.Username}:{postgres.Cluster.Password}\n");
        var fromFile = await RunAsync(["check", "--config", config], new() { ["PGPASSFILE"] = pgpass });
        Assert.True(fromFile.ExitCode == 0, $"PGPASSFILE: exit {fromFile.ExitCode}:\n{fromFile.Output}");
    }

    [Fact]
    public async Task Check_and_run_with_unreachable_kafka_exit_4_within_the_connect_timeout()
    {
        var database = await ReadyDatabaseAsync();
        var broker = $"127.0.0.1:{PreflightTests.ClosedPort()}";
        var config = await WriteAsync(Toml(database, brokers: broker, slot: "slot_" + database));

        var check = await RunAsync(["check", "--config", config]);
        Assert.True(check.ExitCode == 4, $"check: exit {check.ExitCode}:\n{check.Output}");
        Assert.Contains("ok   postgresql", check.Output);
        Assert.Contains($"FAIL kafka         brokers: Kafka brokers {broker} did not answer a metadata request within 2 s", check.Output);

        var run = await RunAsync(["run", "--config", config]);
        Assert.True(run.ExitCode == 4, $"run: exit {run.ExitCode}:\n{run.Output}");
        Assert.Contains($"Kafka brokers {broker} did not answer", run.Output);
        // Kafka is checked while PostgreSQL is, but the slot waits for Kafka's verdict: no slot retains WAL for a run that never streamed.
        Assert.Equal(0L, await postgres.Cluster.ScalarAsync<long>($"SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'slot_{database}'"));
    }

    [Theory]
    [InlineData("at_least_once")]
    [InlineData("exactly_once")]
    public async Task Run_reports_unreachable_kafka_first_when_postgresql_refuses_too(string delivery)
    {
        // Kafka is checked while PostgreSQL is: the faster PostgreSQL failure must still wait for Kafka's verdict.
        var database = await ReadyDatabaseAsync();
        var broker = $"127.0.0.1:{PreflightTests.ClosedPort()}";
        var config = await WriteAsync(Toml(database, passwordLine: "password = \"Not-The-Password\"", brokers: broker, slot: "slot_" + database)
            + $"\n[replication]\ndelivery = \"{delivery}\"\n");

        var run = await RunAsync(["run", "--config", config]);
        Assert.True(run.ExitCode == 4, $"run: exit {run.ExitCode}:\n{run.Output}");
        Assert.Contains($"Kafka brokers {broker} did not answer", run.Output);
        // The producer may be connecting meanwhile: librdkafka's alternating reports are said once each.
        Assert.True(Occurrences(run.Output, "(Local_Transport)") <= 1, run.Output);
        Assert.True(Occurrences(run.Output, "(Local_AllBrokersDown)") <= 1, run.Output);
    }

    private static int Occurrences(string text, string part)
    {
        var count = 0;
        for (var at = text.IndexOf(part, StringComparison.Ordinal); at >= 0; at = text.IndexOf(part, at + part.Length, StringComparison.Ordinal))
            count++;
        return count;
    }

    [Fact]
    public async Task Status_shows_the_slot_as_text_and_json_then_slot_drop_removes_it()
    {
        var database = await ReadyDatabaseAsync();
        var slot = "slot_" + database;
        await postgres.Cluster.ExecuteAsync($"SELECT pg_create_logical_replication_slot('{slot}', 'pgoutput')", database);
        await postgres.Cluster.ExecuteAsync("INSERT INTO items VALUES (1), (2)", database);
        var config = await WriteAsync(Toml(database, slot: slot));

        var text = await RunAsync(["status", "--config", config]);
        Assert.True(text.ExitCode == 0, $"exit {text.ExitCode}:\n{text.Output}");
        Assert.Contains($"slot                 {slot} (plugin pgoutput, database {database})", text.Output);
        Assert.Contains("active               no", text.Output);

        var json = await RunAsync(["status", "--config", config, "--json"]);
        Assert.True(json.ExitCode == 0, $"exit {json.ExitCode}:\n{json.Output}");
        var status = JsonDocument.Parse(json.Output).RootElement;
        Assert.Equal(slot, status.GetProperty("slot").GetString());
        Assert.False(status.GetProperty("active").GetBoolean());
        Assert.True(status.GetProperty("lag_bytes").GetInt64() > 0, "the insert after the slot's creation is lag");
        Assert.True(status.GetProperty("wal_retained_bytes").GetInt64() >= status.GetProperty("lag_bytes").GetInt64());

        var refused = await RunAsync(["slot", "drop", "--config", config]);
        Assert.True(refused.ExitCode == 2, $"exit {refused.ExitCode}:\n{refused.Output}");
        Assert.Contains("Add --yes", refused.Output);

        var dropped = await RunAsync(["slot", "drop", "--config", config, "--yes"]);
        Assert.True(dropped.ExitCode == 0, $"exit {dropped.ExitCode}:\n{dropped.Output}");
        Assert.Equal(0L, await postgres.Cluster.ScalarAsync<long>($"SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{slot}'"));

        var missing = await RunAsync(["status", "--config", config]);
        Assert.True(missing.ExitCode == 3, $"exit {missing.ExitCode}:\n{missing.Output}");
        Assert.Contains($"replication slot \"{slot}\" does not exist", missing.Output);
    }

    [Fact]
    public async Task Slot_drop_of_an_active_slot_exits_3_and_keeps_it()
    {
        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka, "CREATE TABLE items (id int PRIMARY KEY)");
        await run.StartAsync();
        var config = await WriteAsync(Toml(run.Database, slot: run.Config.Postgres.SlotName));

        var (code, output) = await RunAsync(["slot", "drop", "--config", config, "--yes"]);

        Assert.True(code == 3, $"exit {code}:\n{output}");
        Assert.Contains("is in use by PID", output);
        Assert.Contains("stop the replicator", output);
        Assert.Equal(1L, await run.ScalarAsync<long>($"SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{run.Config.Postgres.SlotName}'"));
    }
}
