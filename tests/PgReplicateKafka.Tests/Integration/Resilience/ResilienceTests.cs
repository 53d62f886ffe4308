using Microsoft.Extensions.Logging;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Embedded;

namespace PgReplicateKafka.Tests.Integration.Resilience;

/// <summary>Failures on both ends, injected while changes flow; each test asserts that no committed change is lost.</summary>
[Collection(IntegrationCollection.Name)]
public class ResilienceTests(PostgresFixture postgres, KafkaFixture kafka)
{
    private const string Items = "CREATE TABLE items (id int PRIMARY KEY, v text)";

    private static ReplicatorConfig With(ReplicatorConfig c, PostgresConfig? pg = null, KafkaConfig? kafka = null, ReplicationConfig? replication = null) =>
        new() { Postgres = pg ?? c.Postgres, Snapshot = c.Snapshot, Kafka = kafka ?? c.Kafka, Replication = replication ?? c.Replication, Format = c.Format };

    [Theory]
    [InlineData("fast")]
    [InlineData("immediate")]
    public async Task Survives_a_postgres_restart(string mode)
    {
        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka, Items);
        await run.StartAsync();
        var writer = new RowWriter(run.Cluster, run.Database, batches: 30, rowsPerBatch: 50, TimeSpan.FromMilliseconds(20));
        var writing = writer.RunAsync();
        await writer.WaitForBatchesAsync(10);

        await run.Cluster.RestartAsync(mode);
        await writing;

        var counts = await run.AssertEveryRowDeliveredAsync(kafka.BootstrapServers);
        Assert.Equal(1500, counts.Count);
    }

    [Fact]
    public async Task Survives_a_terminated_walsender()
    {
        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka, Items);
        await run.StartAsync();
        var writer = new RowWriter(run.Cluster, run.Database, batches: 30, rowsPerBatch: 50, TimeSpan.FromMilliseconds(20));
        var writing = writer.RunAsync();
        await writer.WaitForBatchesAsync(10);

        Assert.True(await run.ScalarAsync<bool>(
            $"SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = '{run.Config.Postgres.SlotName}'"));
        await writing;

        var counts = await run.AssertEveryRowDeliveredAsync(kafka.BootstrapServers);
        Assert.Equal(1500, counts.Count);
    }

    [Fact]
    public async Task Survives_a_network_drop()
    {
        using var proxy = new TcpProxy(postgres.Cluster.Port);
        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka, Items,
            c => With(c, pg: new PostgresConfig
            {
                Host = c.Postgres.Host,
                Port = proxy.Port,
                Database = c.Postgres.Database,
                Username = c.Postgres.Username,
                Password = c.Postgres.Password,
                Publication = c.Postgres.Publication,
                SlotName = c.Postgres.SlotName,
            }));
        await run.StartAsync();
        var writer = new RowWriter(run.Cluster, run.Database, batches: 30, rowsPerBatch: 50, TimeSpan.FromMilliseconds(20));
        var writing = writer.RunAsync();
        await writer.WaitForBatchesAsync(10);

        proxy.DropConnections();
        await writer.WaitForBatchesAsync(20);
        proxy.DropConnections();
        await writing;

        var counts = await run.AssertEveryRowDeliveredAsync(kafka.BootstrapServers);
        Assert.Equal(1500, counts.Count);
    }

    [Fact]
    public async Task Waits_out_all_kafka_brokers_down_for_30_s_without_confirming_anything_undelivered()
    {
        // Fault injection needs the mock broker; this test brings its own so it also runs when the suite uses a real Kafka.
        using var mock = MockKafkaCluster.Start(brokers: 3);
        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka, Items,
            c => With(c,
                kafka: new KafkaConfig { Brokers = mock.BootstrapServers.Split(','), TopicPrefix = c.Kafka.TopicPrefix },
                replication: new ReplicationConfig
                {
                    CheckpointIntervalSecs = 1,
                    KeepaliveIntervalSecs = 1,
                    PollIntervalMs = 50,
                    MaxInFlightBytes = 1_048_576,
                }));
        await run.StartAsync();
        await run.ExecuteAsync("INSERT INTO items SELECT g, 'before' FROM generate_series(1, 100) g");
        await run.AssertEveryRowDeliveredAsync(mock.BootstrapServers);

        mock.SetBrokerDown(-1);
        var confirmedAtOutage = await run.ConfirmedFlushLsnAsync();
        // ~6 MB of changes while Kafka is away: more than the 1 MiB in-flight budget, so reading pauses.
        // The first insert reports where its rows end, in the same statement, so before its commit:
        // confirming that transaction would put the slot past this position.
        var firstInsert = (ulong)NpgsqlTypes.NpgsqlLogSequenceNumber.Parse((await run.ScalarAsync<string>(
            "WITH ins AS (INSERT INTO items SELECT g, repeat('x', 300) FROM generate_series(101, 1100) g RETURNING 1) " +
            "SELECT pg_current_wal_insert_lsn()::text FROM (SELECT count(*) FROM ins) done"))!);
        // With only this transaction in flight the stream waits between transactions while the server
        // reports WAL positions past it: the idle position must wait for Kafka too (a rule that
        // confirms it with events in flight, or a confirmation on produce, fails here).
        await Task.Delay(TimeSpan.FromSeconds(3));
        var confirmedWhileIdle = await run.ConfirmedFlushLsnAsync();
        Assert.True(confirmedWhileIdle <= firstInsert,
            $"the slot was confirmed to {confirmedWhileIdle:X} while the stream was idle, past the first transaction made during the outage (its rows end at {firstInsert:X}), which Kafka never acknowledged");
        for (var i = 1; i < 20; i++)
            await run.ExecuteAsync($"INSERT INTO items SELECT g, repeat('x', 300) FROM generate_series({101 + i * 1000}, {100 + (i + 1) * 1000}) g");
        await Task.Delay(TimeSpan.FromSeconds(30));
        var confirmedDuringOutage = await run.ConfirmedFlushLsnAsync();
        Assert.True(confirmedDuringOutage <= firstInsert,
            $"the slot was confirmed to {confirmedDuringOutage:X}, past the first transaction made during the outage (its rows end at {firstInsert:X}), which Kafka never acknowledged");

        mock.SetBrokerUp(-1);
        var counts = await run.AssertEveryRowDeliveredAsync(mock.BootstrapServers, TimeSpan.FromSeconds(90));
        Assert.Equal(20_100, counts.Count);
        Assert.True(confirmedAtOutage <= confirmedDuringOutage);
    }

    [Fact]
    public async Task A_walsender_terminated_while_reading_waits_for_kafka_is_reconnected_at_once()
    {
        using var mock = MockKafkaCluster.Start(brokers: 3);
        var log = new CapturingLoggerFactory();
        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka, Items,
            c => With(c,
                kafka: new KafkaConfig { Brokers = mock.BootstrapServers.Split(','), TopicPrefix = c.Kafka.TopicPrefix },
                replication: new ReplicationConfig
                {
                    CheckpointIntervalSecs = 1,
                    KeepaliveIntervalSecs = 1,
                    PollIntervalMs = 50,
                    RetryInitialMs = 100,
                    RetryMaxMs = 1000,
                    ShutdownTimeoutSecs = 2,
                    MaxInFlightBytes = 1_048_576,
                }));
        await run.StartAsync(log);
        mock.SetBrokerDown(-1);
        // About 3 MB while Kafka is away: the receive loop waits for room and reads nothing.
        for (var i = 0; i < 10; i++)
            await run.ExecuteAsync($"INSERT INTO items SELECT g, repeat('x', 300) FROM generate_series({i * 1000 + 1}, {(i + 1) * 1000}) g");
        await Task.Delay(TimeSpan.FromSeconds(2));

        // A restart or failover of PostgreSQL must be noticed now, not once Kafka is back: until then the
        // instance would report itself streaming, and a standby could not tell it lost the slot.
        var walsender = await run.ScalarAsync<int>($"SELECT active_pid FROM pg_replication_slots WHERE slot_name = '{run.Config.Postgres.SlotName}'");
        await run.ExecuteAsync($"SELECT pg_terminate_backend({walsender})");
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (await run.ScalarAsync<long>(
                   $"SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{run.Config.Postgres.SlotName}' AND active_pid IS NOT NULL AND active_pid <> {walsender}") == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "the replicator did not reconnect within 20 s while Kafka was down. Log:\n" + string.Join("\n", log.Lines));
            await Task.Delay(100);
        }

        mock.SetBrokerUp(-1);
        Assert.Equal(10_000, (await run.AssertEveryRowDeliveredAsync(mock.BootstrapServers, TimeSpan.FromSeconds(90))).Count);
    }

    [Fact]
    public async Task Transient_broker_errors_are_retried_without_loss_or_duplicates()
    {
        using var mock = MockKafkaCluster.Start(brokers: 3);
        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka, Items,
            c => With(c, kafka: new KafkaConfig { Brokers = mock.BootstrapServers.Split(','), TopicPrefix = c.Kafka.TopicPrefix }));
        var log = new CapturingLoggerFactory();
        await run.StartAsync(log);
        await run.ExecuteAsync("INSERT INTO items SELECT g, 'warm-up' FROM generate_series(1, 10) g");
        await run.AssertEveryRowDeliveredAsync(mock.BootstrapServers);

        // Errors the broker answers with: nothing was appended, so the idempotent producer's retry is the
        // first copy.
        const short produce = 0;
        mock.PushRequestErrors(produce,
            Confluent.Kafka.ErrorCode.NotLeaderForPartition, Confluent.Kafka.ErrorCode.RequestTimedOut,
            Confluent.Kafka.ErrorCode.NotEnoughReplicas, Confluent.Kafka.ErrorCode.LeaderNotAvailable);
        for (var i = 0; i < 10; i++)
            await run.ExecuteAsync($"INSERT INTO items SELECT g, 'during errors' FROM generate_series({11 + i * 100}, {10 + (i + 1) * 100}) g");

        var counts = await run.AssertEveryRowDeliveredAsync(mock.BootstrapServers);
        Assert.Equal(1010, counts.Count);
        var repeated = counts.Where(c => c.Value != 1).Select(c => c.Key).ToList();
        Assert.True(repeated.Count == 0, $"{repeated.Count} rows arrived more than once, e.g. {string.Join(", ", repeated.Take(5))}. Log:\n{string.Join("\n", log.Lines)}");

        // Connections dropped mid-request: the producer resends what was unacknowledged, and nothing is
        // lost. Only loss is asserted here: a real broker drops those resends by their sequence numbers, but
        // the mock cluster checks sequences for transactional producers only (rdkafka_mock.c,
        // rd_kafka_mock_validate_records), so a request appended before its connection closed is kept twice.
        mock.PushRequestErrors(produce, Confluent.Kafka.ErrorCode.Local_Transport, Confluent.Kafka.ErrorCode.Local_Transport);
        for (var i = 10; i < 15; i++)
            await run.ExecuteAsync($"INSERT INTO items SELECT g, 'during disconnects' FROM generate_series({11 + i * 100}, {10 + (i + 1) * 100}) g");
        Assert.Equal(1510, (await run.AssertEveryRowDeliveredAsync(mock.BootstrapServers)).Count);
    }

    [Fact]
    public async Task An_oversized_row_stops_with_exit_code_4_naming_table_lsn_and_size()
    {
        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka, Items,
            c => With(c, kafka: new KafkaConfig
            {
                Brokers = c.Kafka.Brokers,
                TopicPrefix = c.Kafka.TopicPrefix,
                Properties = new Dictionary<string, string> { ["message.max.bytes"] = "100000" },
            }));
        await run.StartAsync();
        await run.ExecuteAsync("INSERT INTO items VALUES (1, repeat('x', 200000))");

        var failure = Assert.IsType<KafkaFailureException>(await run.FailureAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(ExitCodes.KafkaFailure, failure.ExitCode);
        Assert.Contains("public.items", failure.Message);
        Assert.Matches("LSN [0-9A-F]+/[0-9A-F]+", failure.Message);
        Assert.Matches("an event of 200[0-9]{3} bytes", failure.Message);
        Assert.Contains("oversized = \"skip\"", failure.Message);
    }

    [Fact]
    public async Task An_oversized_row_is_skipped_when_configured()
    {
        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka, Items,
            c => With(c, kafka: new KafkaConfig
            {
                Brokers = c.Kafka.Brokers,
                TopicPrefix = c.Kafka.TopicPrefix,
                Oversized = OversizedPolicy.Skip,
                Properties = new Dictionary<string, string> { ["message.max.bytes"] = "100000" },
            }));
        await run.StartAsync();
        await run.ExecuteAsync("INSERT INTO items VALUES (1, 'small'), (2, repeat('x', 200000)), (3, 'small')");
        var lastCommit = await run.CurrentWalLsnAsync();

        var messages = await KafkaTestConsumer.ConsumeAsync(kafka.BootstrapServers, [run.Topic("items")], 2, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(1));
        Assert.Equal(["1", "3"], messages.Select(m => m.Key!).Order().Select(k => System.Text.Json.Nodes.JsonNode.Parse(k)!["id"]!.ToJsonString()));
        await run.StopAsync();
        Assert.True(await run.ConfirmedFlushLsnAsync() >= lastCommit, "a skipped row must not hold back confirmation");
    }

    [Fact]
    public async Task A_fatal_producer_error_rebuilds_the_producer_and_loses_nothing()
    {
        var log = new CapturingLoggerFactory();
        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka, Items);
        await run.StartAsync(log);
        var writer = new RowWriter(run.Cluster, run.Database, batches: 30, rowsPerBatch: 50, TimeSpan.FromMilliseconds(20));
        var writing = writer.RunAsync();
        await writer.WaitForBatchesAsync(10);

        var first = run.CurrentProducer;
        KafkaFaults.RaiseFatalError(first.NativeHandle, Confluent.Kafka.ErrorCode.OutOfOrderSequenceNumber, "injected by the test");
        await writing;

        await run.AssertEveryRowDeliveredAsync(kafka.BootstrapServers);
        Assert.NotSame(first, run.CurrentProducer);
        Assert.Contains(log.Lines, l => l.StartsWith("Error: Kafka producer failed", StringComparison.Ordinal) && l.Contains("rebuilding it"));
    }
}
