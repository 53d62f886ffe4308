using Npgsql;
using PgReplicateKafka.Configuration;

namespace PgReplicateKafka.Tests.Integration.Snapshot;

/// <summary>
/// Snapshot progress belongs to one replication slot: a slot created again must never be served by the
/// records of the one before it, and a process that dies early in a snapshot must not leave part of it
/// undone. The real executable, killed with SIGKILL.
/// </summary>
[Collection(IntegrationCollection.Name)]
public class SnapshotSlotTests(PostgresFixture postgres, KafkaFixture kafka)
{
    private const string Items = """
        CREATE SEQUENCE ver;
        CREATE TABLE items (id int PRIMARY KEY, ver bigint NOT NULL DEFAULT nextval('ver'), note text);
        INSERT INTO items (id) SELECT generate_series(1, 1000)
        """;

    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// when_needed: the slot is created again, and the process dies before the new snapshot's first chunk is
    /// acknowledged. The next start finds the slot existing and the old snapshot's "done" records: they are
    /// of the slot before, so it snapshots again.
    /// </summary>
    [Theory]
    [InlineData("at_least_once")]
    [InlineData("exactly_once")]
    public async Task When_needed_snapshots_again_after_a_crash_before_the_first_chunk_of_a_new_slot(string delivery)
    {
        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka, Items);
        var config = await WriteConfigAsync(run, $"delivery = \"{delivery}\"", "mode = \"when_needed\"\nchunk_size = 300");

        using (var first = CliProcess.Start(["run", "--config", config]))
        {
            await WaitForOutputAsync(first, "Snapshot of public.items done");
            await SnapshotPipelineTests.WaitDeliveredAsync(run);
            await StopAsync(first);
        }

        await run.ExecuteAsync($"SELECT pg_drop_replication_slot('{run.Config.Postgres.SlotName}')");
        // The new snapshot's first low watermark commits locally but waits for a synchronous standby that
        // never comes, so no chunk of it can be acknowledged before the kill.
        await using (var held = await HoldCommitsAsync(run))
        {
            using var second = CliProcess.Start(["run", "--config", config]);
            var deadline = DateTime.UtcNow + Timeout;
            while (await run.ScalarAsync<long>($"SELECT count(*) FROM pg_stat_activity WHERE datname = '{run.Database}' AND wait_event = 'SyncRep'") == 0)
            {
                Assert.True(DateTime.UtcNow < deadline, $"no watermark waited for the standby within 30 s. Output:\n{second.Output}");
                Assert.False(second.HasExited, $"the replicator exited. Output:\n{second.Output}");
                await Task.Delay(20);
            }

            Assert.Contains("Created replication slot", second.Output);
            second.Signal("KILL");
            Assert.NotNull(await second.WaitForExitAsync(TimeSpan.FromSeconds(10)));
        }

        using (var third = CliProcess.Start(["run", "--config", config]))
        {
            await WaitForOutputAsync(third, "Snapshot of public.items done");
            await SnapshotPipelineTests.WaitDeliveredAsync(run);
            await StopAsync(third);
        }

        var replay = SnapshotReplay.Read(kafka.BootstrapServers, run.Topic("items"), Timeout);
        Assert.Equal(2000, replay.Reads);
        Assert.Empty(replay.DifferencesFrom(await SnapshotReplay.TableAsync(run, "items")));
    }

    /// <summary>
    /// A crash after one table's snapshot but before the next table's first chunk: the next start still
    /// snapshots every table planned, even with new_tables = false (which only concerns tables that join later).
    /// </summary>
    [Fact]
    public async Task A_crash_between_two_tables_of_the_initial_snapshot_leaves_neither_out()
    {
        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka, """
            CREATE SEQUENCE ver;
            CREATE TABLE a_items (id int PRIMARY KEY, ver bigint NOT NULL DEFAULT nextval('ver'), note text);
            INSERT INTO a_items (id) SELECT generate_series(1, 20000);
            CREATE TABLE b_items (id int PRIMARY KEY, ver bigint NOT NULL DEFAULT nextval('ver'), note text);
            INSERT INTO b_items (id) SELECT generate_series(1, 50)
            """);
        var config = await WriteConfigAsync(run, "", "mode = \"initial\"\nnew_tables = false\nchunk_size = 500\nparallelism = 1");

        using (var first = CliProcess.Start(["run", "--config", config]))
        {
            await CliRuns.WaitForSlotActiveAsync(run, first);
            // The tables are read in name order; b_items waits behind this lock once a_items is done.
            await using var locker = new NpgsqlConnection(run.Cluster.ConnectionString(run.Database));
            await locker.OpenAsync();
            await using var transaction = await locker.BeginTransactionAsync();
            await using (var lockTable = new NpgsqlCommand("LOCK TABLE b_items IN ACCESS EXCLUSIVE MODE", locker, transaction))
                await lockTable.ExecuteNonQueryAsync();
            await WaitForOutputAsync(first, "Snapshot of public.a_items done");
            var deadline = DateTime.UtcNow + Timeout;
            while (await run.ScalarAsync<long>($"SELECT count(*) FROM pg_stat_activity WHERE datname = '{run.Database}' AND wait_event_type = 'Lock'") == 0)
            {
                Assert.True(DateTime.UtcNow < deadline, $"no chunk of b_items waited for the lock within 30 s. Output:\n{first.Output}");
                await Task.Delay(20);
            }

            first.Signal("KILL");
            Assert.NotNull(await first.WaitForExitAsync(TimeSpan.FromSeconds(10)));
            await transaction.RollbackAsync();
        }

        using (var second = CliProcess.Start(["run", "--config", config]))
        {
            await WaitForOutputAsync(second, "Snapshot of public.b_items done");
            await SnapshotPipelineTests.WaitDeliveredAsync(run);
            await StopAsync(second);
        }

        var replay = SnapshotReplay.Read(kafka.BootstrapServers, run.Topic("b_items"), Timeout);
        Assert.Equal(50, replay.Reads);
    }

    /// <summary>
    /// initial, as Debezium's: progress recorded for an earlier slot still counts, so a slot created again
    /// does not snapshot again; the start warns that changes made without a slot are not in Kafka and names
    /// when_needed.
    /// </summary>
    [Fact]
    public async Task Initial_does_not_snapshot_again_for_a_new_slot_and_warns_that_it_does_not()
    {
        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka, Items, c => new ReplicatorConfig
        {
            Postgres = c.Postgres,
            Kafka = c.Kafka,
            Replication = c.Replication,
            Snapshot = new SnapshotConfig { Mode = SnapshotMode.Initial, ChunkSize = 300 },
        });
        var first = new CapturingLoggerFactory();
        await run.StartAsync(first);
        await SnapshotPipelineTests.WaitForLogAsync(first, "Snapshot of public.items done", Timeout);
        await SnapshotPipelineTests.WaitDeliveredAsync(run);
        await run.StopAsync();

        await run.ExecuteAsync($"SELECT pg_drop_replication_slot('{run.Config.Postgres.SlotName}')");
        await run.ExecuteAsync("UPDATE items SET ver = nextval('ver'), note = 'while no slot' WHERE id <= 10");
        var second = new CapturingLoggerFactory();
        await run.StartAsync(second);
        await SnapshotPipelineTests.WaitForLogAsync(second, "mode = \"initial\" does not snapshot them again", Timeout);
        await run.ExecuteAsync("INSERT INTO items (id) VALUES (1001)");
        await SnapshotPipelineTests.WaitDeliveredAsync(run);

        var replay = SnapshotReplay.Read(kafka.BootstrapServers, run.Topic("items"), Timeout);
        Assert.Equal(1000, replay.Reads);
        Assert.Equal(1, replay.Changes);
        Assert.DoesNotContain(second.Lines, l => l.Contains("Snapshot of public.items starts", StringComparison.Ordinal));
    }

    private static async Task<string> WriteConfigAsync(ReplicatorRun run, string replication, string snapshot)
    {
        var path = Path.Combine(Path.GetTempPath(), $"pgrk-{Guid.NewGuid():N}.toml");
        await File.WriteAllTextAsync(path, CliRuns.Toml(run.Config, run.Cluster.Username, run.Cluster.Password, replication, snapshot));
        return path;
    }

    /// <summary>Until disposed, every commit of a transaction with an xid in the test's database waits for a standby that does not exist.</summary>
    private static async Task<IAsyncDisposable> HoldCommitsAsync(ReplicatorRun run)
    {
        await run.Cluster.ExecuteAsync("ALTER SYSTEM SET synchronous_commit = local");
        await run.Cluster.ExecuteAsync("ALTER SYSTEM SET synchronous_standby_names = 'pgrk_absent_standby'");
        await run.Cluster.ExecuteAsync($"ALTER DATABASE \"{run.Database}\" SET synchronous_commit = on");
        await run.Cluster.ExecuteAsync("SELECT pg_reload_conf()");
        return new Release(run);
    }

    private static async Task StopAsync(CliProcess process)
    {
        process.Signal("TERM");
        Assert.True(await process.WaitForExitAsync(Timeout) == 0, $"the replicator did not stop with exit 0. Output:\n{process.Output}");
    }

    private static async Task WaitForOutputAsync(CliProcess process, string text)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (!process.Output.Contains(text, StringComparison.Ordinal))
        {
            Assert.True(DateTime.UtcNow < deadline, $"no line \"{text}\" within {Timeout.TotalSeconds} s. Output:\n{process.Output}");
            Assert.False(process.HasExited, $"the replicator exited. Output:\n{process.Output}");
            await Task.Delay(50);
        }
    }

    private sealed class Release(ReplicatorRun run) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await run.Cluster.ExecuteAsync($"ALTER DATABASE \"{run.Database}\" RESET synchronous_commit");
            await run.Cluster.ExecuteAsync("ALTER SYSTEM RESET synchronous_standby_names");
            await run.Cluster.ExecuteAsync("ALTER SYSTEM RESET synchronous_commit");
            await run.Cluster.ExecuteAsync("SELECT pg_reload_conf()");
            // The held commits are durable already: cancelling their wait only returns them.
            await run.Cluster.ExecuteAsync($"SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE datname = '{run.Database}' AND wait_event = 'SyncRep'");
        }
    }
}
