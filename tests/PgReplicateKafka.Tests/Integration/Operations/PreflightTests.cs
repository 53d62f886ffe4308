using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Embedded;
using PgReplicateKafka.Pipeline;
using PgReplicateKafka.Preflight;

namespace PgReplicateKafka.Tests.Integration.Operations;

/// <summary>The PostgreSQL and Kafka checks that check and run share, against the real throwaway server.</summary>
[Collection(IntegrationCollection.Name)]
public class PreflightTests(PostgresFixture postgres, KafkaFixture kafka)
{
    private const string RolePassword = "Role-Secret-5531";

    private static PostgresConfig Pg(TempPostgresCluster cluster, string database, string? username = null, string? password = null,
        string publication = "pub", string slot = "check_slot", bool createPublication = false, int port = 0, int connectTimeoutSecs = 10) => new()
        {
            Host = cluster.Host,
            Port = port == 0 ? cluster.Port : port,
            Database = database,
            Username = username ?? cluster.Username,
            Password = password ?? cluster.Password,
            Publication = publication,
            SlotName = slot,
            CreatePublication = createPublication,
            Tables = createPublication ? ["items"] : [],
            ConnectTimeoutSecs = connectTimeoutSecs,
        };

    private static CheckResult Single(IReadOnlyList<CheckResult> results, string name) => Assert.Single(results, r => r.Name == name);

    private static void AssertFailed(IReadOnlyList<CheckResult> results, string name, params string[] words)
    {
        var result = Single(results, name);
        Assert.True(result.Outcome == CheckOutcome.Failed, $"expected {name} to fail: {result}");
        foreach (var word in words)
            Assert.Contains(word, result.Message);
    }

    private async Task<string> DatabaseAsync(string sql)
    {
        var database = await postgres.CreateDatabaseAsync();
        await postgres.Cluster.ExecuteAsync(sql, database);
        return database;
    }

    [Fact]
    public async Task A_ready_database_passes_and_tables_without_a_usable_replica_identity_are_warned_about()
    {
        var database = await DatabaseAsync("""
            CREATE TABLE items (id int PRIMARY KEY);
            CREATE TABLE nokey (v text);
            CREATE TABLE nothing (id int PRIMARY KEY);
            ALTER TABLE nothing REPLICA IDENTITY NOTHING;
            CREATE TABLE full_identity (v text);
            ALTER TABLE full_identity REPLICA IDENTITY FULL;
            CREATE PUBLICATION pub FOR ALL TABLES
            """);

        var results = await PostgresChecks.RunAsync(Pg(postgres.Cluster, database), CancellationToken.None);

        Assert.DoesNotContain(results, r => r.Outcome == CheckOutcome.Failed);
        Assert.Equal(["connection", "server version", "wal_level", "role", "max_replication_slots", "max_wal_senders", "publication", "table privileges"],
            results.Take(8).Select(r => r.Name));
        Assert.Equal(CheckOutcome.Passed, Single(results, "replica identity public.items").Outcome);
        Assert.Equal(CheckOutcome.Passed, Single(results, "replica identity public.full_identity").Outcome);
        var nokey = Single(results, "replica identity public.nokey");
        Assert.Equal(CheckOutcome.Warning, nokey.Outcome);
        Assert.Contains("without a primary key", nokey.Message);
        var nothing = Single(results, "replica identity public.nothing");
        Assert.Equal(CheckOutcome.Warning, nothing.Outcome);
        Assert.Contains("NOTHING", nothing.Message);
        Assert.Contains("does not exist yet", Single(results, "replication slot").Message);
    }

    [Fact]
    public async Task Wrong_password_fails_the_connection_without_showing_the_password()
    {
        var results = await PostgresChecks.RunAsync(Pg(postgres.Cluster, "postgres", password: "Wrong-Secret-9912"), CancellationToken.None);

        AssertFailed(results, "connection", "password authentication failed", "PGRK_POSTGRES_PASSWORD");
        Assert.DoesNotContain("Wrong-Secret-9912", Assert.Single(results).Message);
    }

    [Fact]
    public async Task Closed_port_fails_fast_naming_host_and_port()
    {
        var watch = Stopwatch.StartNew();
        var results = await PostgresChecks.RunAsync(Pg(postgres.Cluster, "postgres", port: ClosedPort()), CancellationToken.None);

        AssertFailed(results, "connection", "check [postgres] host and port");
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"took {watch.Elapsed}");
    }

    [Fact]
    public async Task Server_that_never_answers_fails_after_connect_timeout_secs()
    {
        // Accepts the TCP connection but never speaks, as a black-holed proxy would.
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var port = ((IPEndPoint)silent.LocalEndpoint).Port;
        var watch = Stopwatch.StartNew();

        var results = await PostgresChecks.RunAsync(Pg(postgres.Cluster, "postgres", port: port, connectTimeoutSecs: 1), CancellationToken.None);

        AssertFailed(results, "connection", "no answer within 1 s", "connect_timeout_secs");
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"took {watch.Elapsed}");
    }

    [Fact]
    public async Task Unknown_database_is_named()
    {
        var results = await PostgresChecks.RunAsync(Pg(postgres.Cluster, "no_such_db"), CancellationToken.None);

        AssertFailed(results, "connection", "database \"no_such_db\" does not exist", "[postgres] database");
    }

    [Fact]
    public async Task Role_without_replication_or_select_fails_with_the_statements_to_fix_it()
    {
        var database = await DatabaseAsync($"""
            CREATE TABLE items (id int PRIMARY KEY);
            CREATE PUBLICATION pub FOR TABLE items;
            DO $$ BEGIN
              IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rk_plain') THEN
                CREATE ROLE rk_plain LOGIN PASSWORD '{RolePassword}';
              END IF;
            END $$;
            """);

        var results = await PostgresChecks.RunAsync(Pg(postgres.Cluster, database, "rk_plain", RolePassword), CancellationToken.None);

        AssertFailed(results, "role", "lacks the REPLICATION attribute", "ALTER ROLE \"rk_plain\" REPLICATION");
        AssertFailed(results, "table privileges", "lacks SELECT on public.items", "GRANT SELECT ON public.items TO \"rk_plain\"");
    }

    [Fact]
    public async Task Missing_publication_fails_unless_create_publication_will_create_it()
    {
        var database = await DatabaseAsync("CREATE TABLE items (id int PRIMARY KEY)");

        var results = await PostgresChecks.RunAsync(Pg(postgres.Cluster, database), CancellationToken.None);
        AssertFailed(results, "publication", "publication \"pub\" does not exist", "create_publication");

        var creating = await PostgresChecks.RunAsync(Pg(postgres.Cluster, database, createPublication: true), CancellationToken.None);
        Assert.Equal(CheckOutcome.Passed, Single(creating, "publication").Outcome);
    }

    [Fact]
    public async Task Empty_publication_fails()
    {
        var database = await DatabaseAsync("CREATE PUBLICATION pub");

        var results = await PostgresChecks.RunAsync(Pg(postgres.Cluster, database), CancellationToken.None);

        AssertFailed(results, "publication", "publishes no tables", "ALTER PUBLICATION pub ADD TABLE");
    }

    [Fact]
    public async Task Slot_with_another_plugin_fails()
    {
        var database = await DatabaseAsync("CREATE TABLE items (id int PRIMARY KEY); CREATE PUBLICATION pub FOR ALL TABLES");
        var slot = "slot_" + database;
        await postgres.Cluster.ExecuteAsync($"SELECT pg_create_logical_replication_slot('{slot}', 'test_decoding')", database);
        try
        {
            var results = await PostgresChecks.RunAsync(Pg(postgres.Cluster, database, slot: slot), CancellationToken.None);

            AssertFailed(results, "replication slot", "plugin test_decoding, not pgoutput", "pg_drop_replication_slot");
        }
        finally
        {
            await postgres.Cluster.ExecuteAsync($"SELECT pg_drop_replication_slot('{slot}')");
        }
    }

    [Fact]
    public async Task Slot_in_use_by_a_running_replicator_fails_check_and_makes_a_second_run_a_standby()
    {
        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka, "CREATE TABLE items (id int PRIMARY KEY)");
        await run.StartAsync();

        var results = await PostgresChecks.RunAsync(run.Config.Postgres, CancellationToken.None);
        AssertFailed(results, "replication slot", "is in use by another process (PID", "slot_name");

        // run, unlike check, waits for the slot: the high-availability standby.
        var log = new CapturingLoggerFactory();
        using var stop = new CancellationTokenSource();
        var second = Task.Run(() => new Replicator(run.Config, log).RunAsync(stop.Token));
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (!log.Lines.Any(l => l.Contains("waiting as standby")))
        {
            Assert.False(second.IsCompleted, "the second run ended instead of waiting: " + second.Exception?.InnerException?.Message);
            Assert.True(DateTime.UtcNow < deadline, "the second run did not report waiting as standby");
            await Task.Delay(50);
        }

        Assert.Contains(log.Lines, l => l.Contains(Single(results, "replication slot").Message));
        await stop.CancelAsync();
        await second.WaitAsync(TimeSpan.FromSeconds(10)); // a standby stops cleanly
    }

    [Fact]
    public async Task Run_fails_fast_with_the_message_of_the_check()
    {
        var database = await DatabaseAsync("CREATE TABLE items (id int PRIMARY KEY)");
        var config = ReplicatorRun.DefaultConfig(postgres.Cluster, database, kafka.BootstrapServers, kafka.NewTopicPrefix());

        var failure = await Assert.ThrowsAsync<PostgresSetupException>(
            () => new Replicator(config, NullLoggerFactory.Instance).RunAsync(CancellationToken.None));

        var check = Single(await PostgresChecks.RunAsync(config.Postgres, CancellationToken.None), "publication");
        Assert.Equal(check.Message, failure.Message);
        Assert.Equal(ExitCodes.PostgresFailure, failure.ExitCode);
    }

    [Fact]
    public async Task Failover_slot_on_a_server_before_17_fails_naming_the_key_and_the_version()
    {
        var database = await DatabaseAsync("CREATE TABLE items (id int PRIMARY KEY); CREATE PUBLICATION pub FOR ALL TABLES");
        var defaults = ReplicatorRun.DefaultConfig(postgres.Cluster, database, kafka.BootstrapServers, kafka.NewTopicPrefix());
        var config = new ReplicatorConfig
        {
            Postgres = new PostgresConfig
            {
                Host = defaults.Postgres.Host,
                Port = defaults.Postgres.Port,
                Database = database,
                Username = defaults.Postgres.Username,
                Password = defaults.Postgres.Password,
                Publication = "pub",
                SlotName = defaults.Postgres.SlotName,
                FailoverSlot = true,
            },
            Kafka = defaults.Kafka,
            Replication = defaults.Replication,
            Snapshot = defaults.Snapshot,
        };
        var version = await postgres.Cluster.ScalarAsync<string>("SHOW server_version");

        var failure = await Assert.ThrowsAsync<PostgresSetupException>(
            () => new Replicator(config, NullLoggerFactory.Instance).RunAsync(CancellationToken.None));

        Assert.Equal(ExitCodes.PostgresFailure, failure.ExitCode);
        Assert.Contains("[postgres] failover_slot = true needs PostgreSQL 17 or later", failure.Message);
        Assert.Contains($"the server is PostgreSQL {version}", failure.Message);
        Assert.Equal(0L, await postgres.Cluster.ScalarAsync<long>($"SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{config.Postgres.SlotName}'"));
    }

    [Fact]
    public async Task Server_without_logical_wal_or_free_slots_and_senders_fails_each_check()
    {
        await using var replica = await TempPostgresCluster.StartAsync(new TempPostgresOptions
        {
            ExtraSettings = new Dictionary<string, string>
            {
                ["wal_level"] = "replica",
                ["max_replication_slots"] = "0",
                ["max_wal_senders"] = "0",
            },
        });
        await replica.ExecuteAsync("CREATE TABLE items (id int PRIMARY KEY); CREATE PUBLICATION pub FOR ALL TABLES");

        var results = await PostgresChecks.RunAsync(Pg(replica, "postgres"), CancellationToken.None);

        AssertFailed(results, "wal_level", "wal_level is replica", "ALTER SYSTEM SET wal_level = logical");
        AssertFailed(results, "max_replication_slots", "all 0 replication slots are in use", "raise max_replication_slots");
        AssertFailed(results, "max_wal_senders", "all 0 WAL senders are in use", "raise max_wal_senders");
        Assert.Equal(CheckOutcome.Passed, Single(results, "publication").Outcome);
    }

    [Fact]
    public void Kafka_answering_passes_and_unreachable_kafka_fails_within_connect_timeout()
    {
        var replication = new ReplicationConfig();
        var ok = KafkaChecks.Reachability(new KafkaConfig { Brokers = [kafka.BootstrapServers], ConnectTimeoutSecs = 10 });
        Assert.Equal(CheckOutcome.Passed, ok.Outcome);

        var broker = $"127.0.0.1:{ClosedPort()}";
        var watch = Stopwatch.StartNew();
        var failed = KafkaChecks.Reachability(new KafkaConfig { Brokers = [broker], ConnectTimeoutSecs = 2 });

        Assert.Equal(CheckOutcome.Failed, failed.Outcome);
        Assert.Equal(ExitCodes.KafkaFailure, failed.ExitCode);
        Assert.Contains($"Kafka brokers {broker} did not answer", failed.Message);
        Assert.Contains("connect_timeout_secs", failed.Message);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"took {watch.Elapsed}");
    }

    /// <summary>A loopback port nothing listens on: connecting is refused at once.</summary>
    internal static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
