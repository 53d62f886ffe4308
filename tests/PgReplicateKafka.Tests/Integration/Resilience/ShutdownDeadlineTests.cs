using PgReplicateKafka.Configuration;
using PgReplicateKafka.Embedded;

namespace PgReplicateKafka.Tests.Integration.Resilience;

/// <summary>A stop that cannot reach a transaction boundary in time still ends cleanly and confirms what was delivered.</summary>
[Collection(IntegrationCollection.Name)]
public class ShutdownDeadlineTests(PostgresFixture postgres, KafkaFixture kafka)
{
    [Fact]
    public async Task Sigterm_past_the_deadline_with_kafka_down_inside_a_large_transaction_exits_0_and_confirms_what_was_delivered()
    {
        using var mock = MockKafkaCluster.Start(brokers: 3);
        await using var run = await ItemsOnAsync(mock);
        // No periodic confirmation during the test: only the final one can confirm the second batch.
        using var process = await StartCliAsync(run, """
            checkpoint_interval_secs = 600
            shutdown_timeout_secs = 1

            [kafka.properties]
            "queue.buffering.max.messages" = "1000"
            """);
        await CliRuns.WaitForSlotActiveAsync(run, process);

        await run.ExecuteAsync("INSERT INTO items SELECT g, 'first' FROM generate_series(1, 100) g");
        await KafkaTestConsumer.ConsumeAsync(mock.BootstrapServers, [run.Topic("items")], 100, TimeSpan.FromSeconds(30), TimeSpan.Zero);
        await run.ExecuteAsync("INSERT INTO items SELECT g, 'second' FROM generate_series(101, 200) g");
        var delivered = await run.CurrentWalLsnAsync();
        await KafkaTestConsumer.ConsumeAsync(mock.BootstrapServers, [run.Topic("items")], 200, TimeSpan.FromSeconds(30), TimeSpan.Zero);

        mock.SetBrokerDown(-1);
        // librdkafka's queue (1000 messages) fills, then the channel, long before the 64 MiB budget
        // does, so the receive loop waits in the channel write when the deadline closes the channel.
        await run.ExecuteAsync("INSERT INTO items SELECT g, 'x' FROM generate_series(201, 100200) g");
        var largeCommit = await run.CurrentWalLsnAsync();
        await Task.Delay(3000);

        process.Signal("TERM");
        var code = await process.WaitForExitAsync(TimeSpan.FromSeconds(10));
        Assert.True(code == 0, $"expected exit 0 after SIGTERM past the deadline, got {code?.ToString() ?? "no exit"}. Output:\n{process.Output}");
        Assert.Contains("still arriving at the shutdown deadline", process.Output);
        var confirmed = await run.ConfirmedFlushLsnAsync();
        Assert.True(confirmed >= delivered, $"the final confirmation was skipped: slot at {confirmed:X}, delivered up to {delivered:X}");
        Assert.True(confirmed < largeCommit, "the slot was confirmed past a transaction Kafka never acknowledged");
    }

    [Fact]
    public async Task A_stop_during_which_postgres_goes_away_exits_0()
    {
        // As when one host shuts both down: the stop waits for Kafka (brokers down), and meanwhile the
        // walsender ends. What was not confirmed is streamed again after restart; the stop is still a stop.
        using var mock = MockKafkaCluster.Start(brokers: 3);
        await using var run = await ItemsOnAsync(mock);
        using var process = await StartCliAsync(run, "shutdown_timeout_secs = 4");
        await CliRuns.WaitForSlotActiveAsync(run, process);
        await run.ExecuteAsync("INSERT INTO items SELECT g, 'first' FROM generate_series(1, 100) g");
        await KafkaTestConsumer.ConsumeAsync(mock.BootstrapServers, [run.Topic("items")], 100, TimeSpan.FromSeconds(30), TimeSpan.Zero);
        var walsender = await run.ScalarAsync<int>($"SELECT active_pid FROM pg_replication_slots WHERE slot_name = '{run.Config.Postgres.SlotName}'");

        mock.SetBrokerDown(-1);
        await run.ExecuteAsync("INSERT INTO items SELECT g, 'second' FROM generate_series(101, 200) g");
        await Task.Delay(1000);
        process.Signal("TERM");
        await Task.Delay(1000); // waiting for Kafka's acknowledgements
        await run.ExecuteAsync($"SELECT pg_terminate_backend({walsender})");

        var code = await process.WaitForExitAsync(TimeSpan.FromSeconds(15));
        Assert.True(code == 0, $"expected exit 0 after SIGTERM, got {code?.ToString() ?? "no exit"}. Output:\n{process.Output}");
    }

    [Fact]
    public async Task A_stop_while_a_reconnect_waits_for_kafka_to_initialise_transactions_exits_0_at_once()
    {
        using var mock = MockKafkaCluster.Start(brokers: 3);
        await using var run = await ItemsOnAsync(mock);
        using var process = await StartCliAsync(run, "delivery = \"exactly_once\"\nshutdown_timeout_secs = 2");
        await CliRuns.WaitForSlotActiveAsync(run, process);
        await run.ExecuteAsync("INSERT INTO items SELECT g, 'first' FROM generate_series(1, 100) g");
        await KafkaTestConsumer.ConsumeAsync(mock.BootstrapServers, [run.Topic("items")], 100, TimeSpan.FromSeconds(30), TimeSpan.Zero);

        // The reconnect's new producer waits for Kafka in InitTransactions, which gives up only after a minute.
        mock.SetBrokerDown(-1);
        await run.ExecuteAsync($"SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = '{run.Config.Postgres.SlotName}'");
        await Task.Delay(3000);
        process.Signal("TERM");
        var code = await process.WaitForExitAsync(TimeSpan.FromSeconds(5));
        Assert.True(code == 0, $"expected exit 0 within 5 s of SIGTERM, got {code?.ToString() ?? "no exit"}. Output:\n{process.Output}");
    }

    [Fact]
    public async Task A_stop_whose_last_kafka_transaction_aborts_exits_0_and_confirms_none_of_it()
    {
        using var mock = MockKafkaCluster.Start(brokers: 3);
        await using var run = await ItemsOnAsync(mock);
        // Nothing commits before the stop: the events wait in one open Kafka transaction.
        using var process = await StartCliAsync(run, "delivery = \"exactly_once\"\ntransaction_max_ms = 60000\ntransaction_max_events = 1000000");
        await CliRuns.WaitForSlotActiveAsync(run, process);
        var before = await run.CurrentWalLsnAsync();

        // The broker refuses the transaction's record: the stop's commit has to abort it instead. One row,
        // so one Produce request: with more, a later produce call in the now abortable transaction can
        // fail before the stop, the session streams them again and the stop commits that retry.
        const short produce = 0;
        mock.PushRequestErrors(produce, Confluent.Kafka.ErrorCode.InvalidRecord);
        await run.ExecuteAsync("INSERT INTO items VALUES (1, 'refused')");
        await Task.Delay(1500);
        process.Signal("TERM");

        var code = await process.WaitForExitAsync(TimeSpan.FromSeconds(15));
        Assert.True(code == 0, $"expected exit 0 after SIGTERM, got {code?.ToString() ?? "no exit"}. Output:\n{process.Output}");
        Assert.True(process.Output.Contains("will be streamed again after restart"), $"expected the stop to abort the transaction. Output:\n{process.Output}");
        Assert.True(await run.ConfirmedFlushLsnAsync() <= before, "PostgreSQL was confirmed past rows whose Kafka transaction aborted");
    }

    /// <summary>
    /// A table "items" whose replicator uses <paramref name="mock"/>: fault injection needs the mock broker, so each
    /// test brings its own and also runs when the suite uses a real Kafka.
    /// </summary>
    private Task<ReplicatorRun> ItemsOnAsync(MockKafkaCluster mock) =>
        ReplicatorRun.CreateAsync(postgres, kafka, "CREATE TABLE items (id int PRIMARY KEY, v text)", c => new ReplicatorConfig
        {
            Postgres = c.Postgres,
            Snapshot = c.Snapshot,
            Kafka = new KafkaConfig { Brokers = mock.BootstrapServers.Split(','), TopicPrefix = c.Kafka.TopicPrefix },
            Replication = c.Replication,
            Format = c.Format,
        });

    /// <summary>The real executable on <paramref name="run"/>'s configuration with <paramref name="replication"/> lines added.</summary>
    private static async Task<CliProcess> StartCliAsync(ReplicatorRun run, string replication)
    {
        var configPath = Path.Combine(Path.GetTempPath(), $"pgrk-{Guid.NewGuid():N}.toml");
        await File.WriteAllTextAsync(configPath, CliRuns.Toml(run.Config, run.Cluster.Username, run.Cluster.Password, replication));
        return CliProcess.Start(["run", "--config", configPath]);
    }
}
