using Npgsql;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Source.Snapshot;

namespace PgReplicateKafka.Tests.Integration.Snapshot;

/// <summary>The snapshot wired into the running pipeline: existing rows as READ events while the stream goes on.</summary>
[Collection(IntegrationCollection.Name)]
public class SnapshotPipelineTests(PostgresFixture postgres, KafkaFixture kafka)
{
    // Every write takes a new version, so the replay can tell an older state from a newer one.
    private const string Items = """
        CREATE SEQUENCE ver;
        CREATE TABLE items (id int PRIMARY KEY, ver bigint NOT NULL DEFAULT nextval('ver'), note text);
        ALTER TABLE items REPLICA IDENTITY FULL
        """;

    private static Func<ReplicatorConfig, ReplicatorConfig> Snapshot(SnapshotMode mode, int chunkSize = 1000, int parallelism = 2) => c => new ReplicatorConfig
    {
        Postgres = c.Postgres,
        Kafka = c.Kafka,
        Replication = c.Replication,
        Snapshot = new SnapshotConfig { Mode = mode, ChunkSize = chunkSize, Parallelism = parallelism },
    };

    /// <summary>50,000 rows (the issue's 200,000 scaled to run in seconds here) while 4 writers change the same keys.</summary>
    [Fact]
    public async Task A_snapshot_under_concurrent_writes_replays_to_the_table_and_never_sends_an_older_state()
    {
        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka,
            Items + "; INSERT INTO items (id, note) SELECT g, 'before' FROM generate_series(1, 50000) g; ANALYZE items",
            Snapshot(SnapshotMode.Initial, chunkSize: 12_500));
        var logs = new CapturingLoggerFactory();

        // Writers at full speed from before the snapshot until after it: many writes land between a chunk's read and its high watermark.
        using var writing = new CancellationTokenSource();
        var writers = Enumerable.Range(0, 4).Select(w => Task.Run(() => WriteAsync(run, w, writing.Token))).ToArray();
        await run.StartAsync(logs);
        await WaitForLogAsync(logs, "Snapshot of public.items done", TimeSpan.FromSeconds(60));
        await Task.Delay(500);
        await writing.CancelAsync();
        await Task.WhenAll(writers);
        await WaitDeliveredAsync(run);

        var replay = SnapshotReplay.Read(kafka.BootstrapServers, run.Topic("items"), TimeSpan.FromSeconds(60));
        var table = await SnapshotReplay.TableAsync(run, "items");
        Assert.Empty(replay.OrderViolations);
        Assert.Empty(replay.DifferencesFrom(table));
        Assert.True(replay.Reads > 10_000, $"only {replay.Reads} READ events");
        Assert.True(replay.Changes > 100, $"the writers made only {replay.Changes} changes during the snapshot");
        var done = logs.Lines.Single(l => l.Contains("Snapshot of public.items done", StringComparison.Ordinal));
        Assert.DoesNotContain(" 0 of them not emitted", done); // writes did land inside chunk windows
    }

    /// <summary>
    /// A transaction whose commit record is in the WAL but which snapshots do not show yet (here held in
    /// that state by a synchronous-replication wait for a standby that does not exist): the stream
    /// carries its change before the chunk's low watermark, so a chunk read at once would miss it and
    /// emit the older row after the newer one. The chunk must wait until the commit is visible.
    /// </summary>
    [Fact]
    public async Task A_chunk_waits_for_a_commit_already_streamed_but_not_yet_visible()
    {
        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka, Items + "; INSERT INTO items (id, note) SELECT g, 'before' FROM generate_series(1, 100) g",
            Snapshot(SnapshotMode.Never, chunkSize: 1000));
        var logs = new CapturingLoggerFactory();
        await run.StartAsync(logs);
        // Every session commits without a standby (local), except the one held below.
        await run.Cluster.ExecuteAsync("ALTER SYSTEM SET synchronous_commit = local");
        await run.Cluster.ExecuteAsync("ALTER SYSTEM SET synchronous_standby_names = 'pgrk_absent_standby'");
        await run.Cluster.ExecuteAsync("SELECT pg_reload_conf()");
        try
        {
            await using var held = new NpgsqlConnection(run.Cluster.ConnectionString(run.Database));
            await held.OpenAsync();
            var pid = held.ProcessID;
            await using (var on = new NpgsqlCommand("SET synchronous_commit = on", held))
                await on.ExecuteNonQueryAsync();
            await using var update = new NpgsqlCommand("UPDATE items SET ver = nextval('ver'), note = 'hidden' WHERE id = 5", held);
            var committing = update.ExecuteNonQueryAsync();
            var deadline = DateTime.UtcNow.AddSeconds(20);
            while (await run.ScalarAsync<long>($"SELECT count(*) FROM pg_stat_activity WHERE pid = {pid} AND wait_event = 'SyncRep'") == 0)
            {
                Assert.True(DateTime.UtcNow < deadline, "the held commit never reached its synchronous-replication wait");
                await Task.Delay(20);
            }

            await using (var connection = new NpgsqlConnection(run.Cluster.ConnectionString(run.Database)))
            {
                await connection.OpenAsync();
                await Watermarks.EmitAsync(connection, new SnapshotRequest("public.items", null), CancellationToken.None);
            }

            // Long enough for a chunk read that does not wait to be over; then the commit becomes visible.
            await WaitForLogAsync(logs, "On-demand snapshot of public.items starts", TimeSpan.FromSeconds(30));
            await Task.Delay(1500);
            await run.Cluster.ExecuteAsync($"SELECT pg_cancel_backend({pid})");
            await committing;
        }
        finally
        {
            await run.Cluster.ExecuteAsync("ALTER SYSTEM RESET synchronous_standby_names");
            await run.Cluster.ExecuteAsync("ALTER SYSTEM RESET synchronous_commit");
            await run.Cluster.ExecuteAsync("SELECT pg_reload_conf()");
        }

        await WaitForLogAsync(logs, "Snapshot of public.items done", TimeSpan.FromSeconds(30));
        await WaitDeliveredAsync(run);
        var replay = SnapshotReplay.Read(kafka.BootstrapServers, run.Topic("items"), TimeSpan.FromSeconds(60));
        Assert.Empty(replay.OrderViolations);
        Assert.Equal("hidden", (string?)replay.Rows["{\"id\":5}"]["note"]);
        Assert.Equal(100, replay.Reads);
    }

    /// <summary>Exactly-once: READ events and each chunk's progress record commit in one Kafka transaction.</summary>
    [Theory]
    [InlineData(DeliveryGuarantee.AtLeastOnce)]
    [InlineData(DeliveryGuarantee.ExactlyOnce)]
    public async Task Initial_only_exits_once_the_snapshot_is_acknowledged(DeliveryGuarantee delivery)
    {
        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka, Items + "; INSERT INTO items (id) SELECT generate_series(1, 3000)",
            c => Snapshot(SnapshotMode.InitialOnly, chunkSize: 500)(c) is var snapshot && delivery == DeliveryGuarantee.ExactlyOnce
                ? new ReplicatorConfig
                {
                    Postgres = snapshot.Postgres,
                    Kafka = snapshot.Kafka,
                    Snapshot = snapshot.Snapshot,
                    Replication = new ReplicationConfig
                    {
                        Delivery = delivery,
                        CheckpointIntervalSecs = 1,
                        KeepaliveIntervalSecs = 1,
                        PollIntervalMs = 50,
                        RetryInitialMs = 100,
                        RetryMaxMs = 1000,
                    },
                }
                : snapshot);
        await run.StartAsync();
        await run.Running!.WaitAsync(TimeSpan.FromSeconds(30)); // ends by itself, without a failure

        var replay = SnapshotReplay.Read(kafka.BootstrapServers, run.Topic("items"), TimeSpan.FromSeconds(30));
        Assert.Equal(3000, replay.Reads);
        Assert.Empty(replay.DifferencesFrom(await SnapshotReplay.TableAsync(run, "items")));
        Assert.Contains(PgReplicateKafka.Operations.SnapshotStatus.Read(run.Config), t => t is { Table: "public.items", State: "done", Rows: 3000, Where: null });
    }

    [Fact]
    public async Task Initial_only_with_a_table_it_must_refuse_delivers_the_others_then_exits_3_naming_it()
    {
        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka,
            Items + "; INSERT INTO items (id) SELECT generate_series(1, 1000); CREATE TABLE nokey (note text); INSERT INTO nokey VALUES ('x')",
            Snapshot(SnapshotMode.InitialOnly, chunkSize: 500));
        try
        {
            await run.StartAsync();
        }
        catch (PostgresSetupException)
        {
            // Over before the start was seen to stream: the same failure follows.
        }

        var failure = Assert.IsType<PostgresSetupException>(await run.FailureAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(ExitCodes.PostgresFailure, failure.ExitCode);
        Assert.Contains("public.nokey", failure.Message);
        Assert.Contains("primary key", failure.Message);
        var replay = SnapshotReplay.Read(kafka.BootstrapServers, run.Topic("items"), TimeSpan.FromSeconds(30));
        Assert.Equal(1000, replay.Reads);
    }

    [Fact]
    public async Task Never_emits_no_read_and_a_request_backfills_only_its_rows_while_streaming_goes_on()
    {
        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka, Items + "; INSERT INTO items (id) SELECT generate_series(1, 2000)",
            Snapshot(SnapshotMode.Never, chunkSize: 300));
        var logs = new CapturingLoggerFactory();
        await run.StartAsync(logs);
        await run.ExecuteAsync("INSERT INTO items (id) VALUES (5001)");
        await using (var connection = new NpgsqlConnection(run.Cluster.ConnectionString(run.Database)))
        {
            await connection.OpenAsync();
            await Watermarks.EmitAsync(connection, new SnapshotRequest("public.items", "id <= 700"), CancellationToken.None);
        }

        await run.ExecuteAsync("INSERT INTO items (id) VALUES (5002)");
        await WaitForLogAsync(logs, "Snapshot of public.items done", TimeSpan.FromSeconds(30));
        await WaitDeliveredAsync(run);

        var events = SnapshotReplay.ReadToEnd(kafka.BootstrapServers, run.Topic("items"), TimeSpan.FromSeconds(30))
            .Select(e => System.Text.Json.Nodes.JsonNode.Parse(e.Value)!).ToList();
        var reads = events.Where(e => (string)e["op"]! == "READ").Select(e => (int)e["after"]!["id"]!).Order().ToList();
        Assert.Equal(Enumerable.Range(1, 700), reads);
        Assert.All(events.Where(e => (string)e["op"]! == "READ"), e => Assert.True((bool)e["source"]!["snapshot"]!));
        Assert.Equal([5001, 5002], events.Where(e => (string)e["op"]! == "INSERT").Select(e => (int)e["after"]!["id"]!));
    }

    /// <summary>A request is recorded in Kafka with the transaction that carried it, so a stop halfway through neither loses it nor restarts it.</summary>
    [Fact]
    public async Task A_request_interrupted_by_a_stop_resumes_after_the_restart_in_never_mode()
    {
        // Chunks of one row: the request takes long enough to stop it halfway.
        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka, Items + "; INSERT INTO items (id) SELECT generate_series(1, 300)",
            Snapshot(SnapshotMode.Never, chunkSize: 1, parallelism: 1));
        var first = new CapturingLoggerFactory();
        await run.StartAsync(first);
        await using (var connection = new NpgsqlConnection(run.Cluster.ConnectionString(run.Database)))
        {
            await connection.OpenAsync();
            await Watermarks.EmitAsync(connection, new SnapshotRequest("public.items", "id <= 200"), CancellationToken.None);
        }

        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!PgReplicateKafka.Operations.SnapshotStatus.Read(run.Config).Any(t => t is { Where: "id <= 200", Rows: > 0 }))
        {
            Assert.True(DateTime.UtcNow < deadline, "no chunk of the request was acknowledged within 30 s");
            await Task.Delay(50);
        }

        await run.StopAsync();
        Assert.DoesNotContain(first.Lines, l => l.Contains("Snapshot of public.items done", StringComparison.Ordinal));

        var second = new CapturingLoggerFactory();
        await run.StartAsync(second);
        await WaitForLogAsync(second, "On-demand snapshot of public.items resumes after", TimeSpan.FromSeconds(30));
        await WaitForLogAsync(second, "Snapshot of public.items done", TimeSpan.FromSeconds(60));
        await WaitDeliveredAsync(run);

        var reads = SnapshotReplay.ReadToEnd(kafka.BootstrapServers, run.Topic("items"), TimeSpan.FromSeconds(30))
            .Select(e => System.Text.Json.Nodes.JsonNode.Parse(e.Value)!)
            .Where(e => (string)e["op"]! == "READ").Select(e => (int)e["after"]!["id"]!).ToList();
        Assert.Equal(Enumerable.Range(1, 200), reads.Distinct().Order());
        // Resumed after the last acknowledged chunk: at most the chunk in flight at the stop is read twice.
        Assert.InRange(reads.Count, 200, 201);
        Assert.Contains(PgReplicateKafka.Operations.SnapshotStatus.Read(run.Config), t => t is { Table: "public.items", Where: "id <= 200", State: "done", Rows: 200 });
    }

    [Fact]
    public async Task A_table_that_joins_the_publication_while_running_is_snapshotted()
    {
        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka, Items, Snapshot(SnapshotMode.Initial, chunkSize: 400));
        var logs = new CapturingLoggerFactory();
        await run.StartAsync(logs);
        await WaitForLogAsync(logs, "Snapshot of public.items done", TimeSpan.FromSeconds(30));

        // It joins the ALL TABLES publication: its rows are streamed too, and the snapshot reads them as READ events.
        await run.ExecuteAsync("""
            BEGIN;
            CREATE TABLE extra (id int PRIMARY KEY, ver bigint NOT NULL DEFAULT nextval('ver'), note text);
            INSERT INTO extra (id) SELECT generate_series(1, 1500);
            COMMIT;
            INSERT INTO extra (id) VALUES (2000)
            """);
        await WaitForLogAsync(logs, "Snapshot of public.extra done", TimeSpan.FromSeconds(30));
        await WaitDeliveredAsync(run);

        var replay = SnapshotReplay.Read(kafka.BootstrapServers, run.Topic("extra"), TimeSpan.FromSeconds(30));
        Assert.True(replay.Reads >= 1500, $"{replay.Reads} READ events");
        Assert.Empty(replay.OrderViolations);
        Assert.Empty(replay.DifferencesFrom(await SnapshotReplay.TableAsync(run, "extra")));
    }

    [Fact]
    public async Task When_needed_snapshots_every_table_again_after_the_slot_was_dropped_while_stopped()
    {
        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka, Items + "; INSERT INTO items (id) SELECT generate_series(1, 1000)",
            Snapshot(SnapshotMode.WhenNeeded, chunkSize: 300));
        var first = new CapturingLoggerFactory();
        await run.StartAsync(first);
        await WaitForLogAsync(first, "Snapshot of public.items done", TimeSpan.FromSeconds(30));
        await WaitDeliveredAsync(run);
        await run.StopAsync();

        // The new slot misses every row before it, although the progress topic records a complete snapshot.
        await run.ExecuteAsync($"SELECT pg_drop_replication_slot('{run.Config.Postgres.SlotName}')");
        var second = new CapturingLoggerFactory();
        await run.StartAsync(second);
        await WaitForLogAsync(second, "Snapshot of public.items done", TimeSpan.FromSeconds(30));
        await WaitDeliveredAsync(run);

        var replay = SnapshotReplay.Read(kafka.BootstrapServers, run.Topic("items"), TimeSpan.FromSeconds(30));
        Assert.Equal(2000, replay.Reads);
        Assert.Empty(replay.DifferencesFrom(await SnapshotReplay.TableAsync(run, "items")));
    }

    /// <summary>
    /// Debezium's envelope takes a column's type from its modifier (a numeric's scale, a time's precision, a bit
    /// string's length): a READ event must carry the schema and values a streamed event of the same row carries.
    /// </summary>
    [Fact]
    public async Task Debezium_read_events_carry_the_schema_and_values_of_streamed_events()
    {
        const string Values = "12.5, '2026-01-02 03:04:05.123', '2026-01-02 03:04:05.123456', '12:34:56.789', B'1010', 'abc'";
        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka, $"""
            CREATE TABLE typed (id int PRIMARY KEY, amount numeric(10,2), at timestamp(3), at_us timestamp(6), t time(3), flags bit(4), code varchar(8));
            INSERT INTO typed VALUES (1, {Values})
            """, c => new ReplicatorConfig
        {
            Postgres = c.Postgres,
            Kafka = c.Kafka,
            Replication = c.Replication,
            Snapshot = new SnapshotConfig { Mode = SnapshotMode.Initial },
            Format = new FormatConfig { Envelope = EnvelopeFormat.Debezium, Schemas = true },
        });
        var logs = new CapturingLoggerFactory();
        await run.StartAsync(logs);
        await WaitForLogAsync(logs, "Snapshot of public.typed done", TimeSpan.FromSeconds(30));
        await run.ExecuteAsync($"INSERT INTO typed VALUES (2, {Values})");
        await WaitDeliveredAsync(run);

        var events = SnapshotReplay.ReadToEnd(kafka.BootstrapServers, run.Topic("typed"), TimeSpan.FromSeconds(30))
            .Select(e => System.Text.Json.Nodes.JsonNode.Parse(e.Value)!).ToDictionary(e => (string)e["payload"]!["op"]!);
        var (read, created) = (events["r"], events["c"]);
        Assert.True(System.Text.Json.Nodes.JsonNode.DeepEquals(read["schema"], created["schema"]), $"READ schema {read["schema"]}\nstreamed schema {created["schema"]}");
        var (readRow, createdRow) = (read["payload"]!["after"]!.AsObject(), created["payload"]!["after"]!.AsObject());
        readRow.Remove("id");
        createdRow.Remove("id");
        Assert.Equal(createdRow.ToJsonString(), readRow.ToJsonString());
    }

    /// <summary>
    /// A column dropped while a table's snapshot runs: the snapshot goes on with the table's new layout from
    /// its last acknowledged chunk, and streaming is not interrupted.
    /// </summary>
    [Fact]
    public async Task A_column_dropped_during_the_snapshot_changes_its_layout_and_it_goes_on()
    {
        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka, Items + "; ALTER TABLE items ADD COLUMN extra text DEFAULT 'x'; INSERT INTO items (id) SELECT generate_series(1, 20000)",
            Snapshot(SnapshotMode.Initial, chunkSize: 100, parallelism: 1));
        var logs = new CapturingLoggerFactory();
        await run.StartAsync(logs);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!PgReplicateKafka.Operations.SnapshotStatus.Read(run.Config).Any(t => t is { Table: "public.items", Rows: >= 2000 }))
        {
            Assert.True(DateTime.UtcNow < deadline, "the snapshot did not get going within 30 s");
            await Task.Delay(50);
        }

        await run.ExecuteAsync("ALTER TABLE items DROP COLUMN extra");
        await run.ExecuteAsync("UPDATE items SET ver = nextval('ver'), note = 'after' WHERE id = 19999");
        await WaitForLogAsync(logs, "Snapshot of public.items done", TimeSpan.FromSeconds(60));
        await WaitDeliveredAsync(run);

        Assert.False(run.Running!.IsCompleted, "the replicator stopped");
        Assert.Contains(logs.Lines, l => l.Contains("Table public.items changed under its snapshot; it goes on with columns id, ver, note", StringComparison.Ordinal));
        var replay = SnapshotReplay.Read(kafka.BootstrapServers, run.Topic("items"), TimeSpan.FromSeconds(30));
        Assert.Empty(replay.OrderViolations);
        Assert.Empty(replay.DifferencesFrom(await SnapshotReplay.TableAsync(run, "items")));
    }

    /// <summary>A table dropped while its snapshot runs: that snapshot stops with a warning, the rest goes on.</summary>
    [Fact]
    public async Task A_table_dropped_during_its_snapshot_stops_that_snapshot_and_streaming_goes_on()
    {
        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka, Items + "; CREATE TABLE gone (id int PRIMARY KEY); INSERT INTO gone SELECT generate_series(1, 20000)",
            Snapshot(SnapshotMode.Initial, chunkSize: 100, parallelism: 1));
        var logs = new CapturingLoggerFactory();
        await run.StartAsync(logs);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!PgReplicateKafka.Operations.SnapshotStatus.Read(run.Config).Any(t => t is { Table: "public.gone", Rows: >= 1000 }))
        {
            Assert.True(DateTime.UtcNow < deadline, "the snapshot of gone did not get going within 30 s");
            await Task.Delay(50);
        }

        await run.ExecuteAsync("DROP TABLE gone");
        await WaitForLogAsync(logs, "Snapshot of public.gone stopped after", TimeSpan.FromSeconds(30));
        await run.ExecuteAsync("INSERT INTO items (id) VALUES (1)");
        await WaitDeliveredAsync(run);

        Assert.False(run.Running!.IsCompleted, "the replicator stopped");
        Assert.Contains(logs.Lines, l => l.Contains("it was dropped or left publication pub", StringComparison.Ordinal));
        Assert.Equal(1, SnapshotReplay.Read(kafka.BootstrapServers, run.Topic("items"), TimeSpan.FromSeconds(30)).Changes);
    }

    private static async Task WriteAsync(ReplicatorRun run, int writer, CancellationToken ct)
    {
        var random = new Random(writer);
        await using var connection = new NpgsqlConnection(run.Cluster.ConnectionString(run.Database));
        await connection.OpenAsync();
        while (!ct.IsCancellationRequested)
        {
            // Several keys per statement, so many keys change while a chunk is read.
            var ids = string.Join(",", Enumerable.Range(0, 10).Select(_ => random.Next(1, 55_001)));
            var sql = random.Next(3) switch
            {
                0 => $"UPDATE items SET ver = nextval('ver'), note = 'w{writer}' WHERE id IN ({ids})",
                1 => $"DELETE FROM items WHERE id IN ({ids})",
                _ => $"INSERT INTO items (id, note) SELECT DISTINCT unnest(ARRAY[{ids}]), 'new' ON CONFLICT (id) DO UPDATE SET ver = nextval('ver'), note = 'upsert'",
            };
            await using var command = new NpgsqlCommand(sql, connection);
            await command.ExecuteNonQueryAsync();
        }
    }

    internal static async Task WaitForLogAsync(CapturingLoggerFactory logs, string text, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!logs.Lines.Any(l => l.Contains(text, StringComparison.Ordinal)))
        {
            Assert.True(DateTime.UtcNow < deadline, $"no log line \"{text}\" within {timeout.TotalSeconds} s:\n{string.Join("\n", logs.Lines.TakeLast(30))}");
            await Task.Delay(100);
        }
    }

    /// <summary>Everything written so far is confirmed, so it is in Kafka.</summary>
    internal static async Task WaitDeliveredAsync(ReplicatorRun run)
    {
        var target = await run.CurrentWalLsnAsync();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (await run.ConfirmedFlushLsnAsync() < target)
        {
            Assert.True(DateTime.UtcNow < deadline, "the replicator did not confirm the writes within 30 s");
            await Task.Delay(100);
        }
    }
}
