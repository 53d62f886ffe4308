using PgReplicateKafka.Configuration;
using PgReplicateKafka.Embedded;
using Xunit.Abstractions;

namespace PgReplicateKafka.Tests.Integration.Delivery;

/// <summary>
/// delivery = "exactly_once". The mock broker shows aborted transactions to read_committed readers,
/// so each test here asserts only what stays true on it; the full random-kill test needs a real broker.
/// </summary>
[Collection(IntegrationCollection.Name)]
public class ExactlyOnceTests(PostgresFixture postgres, KafkaFixture kafka, ITestOutputHelper output)
{
    private const string Items = "CREATE TABLE items (id int PRIMARY KEY, v text)";

    private static ReplicatorConfig ExactlyOnce(ReplicatorConfig c, string? transactionalId = null, string? brokers = null, long maxInFlightBytes = 67_108_864) => new()
    {
        Postgres = c.Postgres,
        Snapshot = c.Snapshot,
        Kafka = new KafkaConfig { Brokers = brokers?.Split(',') ?? c.Kafka.Brokers, TopicPrefix = c.Kafka.TopicPrefix, TransactionalId = transactionalId },
        Replication = new ReplicationConfig
        {
            Delivery = DeliveryGuarantee.ExactlyOnce,
            CheckpointIntervalSecs = 1,
            KeepaliveIntervalSecs = 1,
            PollIntervalMs = 50,
            RetryInitialMs = 100,
            RetryMaxMs = 1000,
            MaxInFlightBytes = maxInFlightBytes,
        },
    };

    private static async Task<Dictionary<int, int>> CountsAsync(ReplicatorRun run, string bootstrap, int expected)
    {
        var consumed = await KafkaTestConsumer.ConsumeAsync(bootstrap, [run.Topic("items")], expected, TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(2));
        var counts = new Dictionary<int, int>();
        foreach (var message in consumed)
        {
            var id = (int)System.Text.Json.Nodes.JsonNode.Parse(message.Value!)!["after"]!["id"]!;
            counts[id] = counts.GetValueOrDefault(id) + 1;
        }

        return counts;
    }

    [Fact]
    public async Task A_restart_skips_what_kafka_committed_but_postgres_never_heard_confirmed()
    {
        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka, Items);
        var configPath = Path.Combine(Path.GetTempPath(), $"pgrk-{Guid.NewGuid():N}.toml");
        // PostgreSQL hears no confirmation for an hour: only the Kafka checkpoint knows what was delivered.
        await File.WriteAllTextAsync(configPath, CliRuns.Toml(run.Config, run.Cluster.Username, run.Cluster.Password,
            "delivery = \"exactly_once\"\ncheckpoint_interval_secs = 3600"));

        using (var first = CliProcess.Start(["run", "--config", configPath]))
        {
            await CliRuns.WaitForSlotActiveAsync(run, first);
            await run.ExecuteAsync("INSERT INTO items VALUES (1, 'first')");
            Assert.Single(await CountsAsync(run, kafka.BootstrapServers, 1));
            await Task.Delay(500); // a session confirms its first delivery at once, then only every hour
            for (var i = 0; i < 20; i++)
                await run.ExecuteAsync($"INSERT INTO items SELECT g, 'first' FROM generate_series({i * 50 + 2}, {(i + 1) * 50 + 1}) g");
            var written = await run.CurrentWalLsnAsync();
            Assert.Equal(1001, (await CountsAsync(run, kafka.BootstrapServers, 1001)).Count);
            await Task.Delay(1000); // the last Kafka transaction commits within transaction_max_ms
            first.Signal("KILL");
            Assert.NotNull(await first.WaitForExitAsync(TimeSpan.FromSeconds(10)));
            Assert.True(await run.ConfirmedFlushLsnAsync() < written); // PostgreSQL would resend the last 1000
        }

        using var second = CliProcess.Start(["run", "--config", configPath]);
        await CliRuns.WaitForSlotActiveAsync(run, second);
        for (var i = 20; i < 30; i++)
            await run.ExecuteAsync($"INSERT INTO items SELECT g, 'second' FROM generate_series({i * 50 + 2}, {(i + 1) * 50 + 1}) g");

        var counts = await CountsAsync(run, kafka.BootstrapServers, 1501);
        Assert.Equal(1501, counts.Count);
        Assert.All(counts, c => Assert.Equal(1, c.Value));
        Assert.Contains("Kafka holds transactions up to", second.Output);
        second.Signal("TERM");
        Assert.Equal(0, await second.WaitForExitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task A_postgres_transaction_larger_than_the_in_flight_budget_goes_through()
    {
        // One Kafka transaction must hold the whole PostgreSQL transaction (~7 MB of events) while
        // only 1 MiB may be unacknowledged: memory is freed per acknowledgement, not at the commit.
        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka, Items, c => ExactlyOnce(c, maxInFlightBytes: 1_048_576));
        await run.StartAsync();
        await run.ExecuteAsync("INSERT INTO items SELECT g, repeat('x', 300) FROM generate_series(1, 20000) g");
        var end = await run.CurrentWalLsnAsync();

        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (await run.ConfirmedFlushLsnAsync() < end)
        {
            Assert.True(DateTime.UtcNow < deadline, "the transaction was not committed to Kafka and confirmed within 60 s");
            await Task.Delay(100);
        }

        Assert.Equal(20_000, (await CountsAsync(run, kafka.BootstrapServers, 20_000)).Count);
    }

    [Fact]
    public async Task A_fenced_producer_exits_4_saying_so_instead_of_fencing_back()
    {
        // The mock broker does not fence a producer when another takes its transactional.id; it can
        // answer with the broker's fencing error, which is what a fenced instance receives.
        using var mock = MockKafkaCluster.Start(brokers: 1);
        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka, Items, c => ExactlyOnce(c, brokers: mock.BootstrapServers));
        await run.StartAsync();
        await run.ExecuteAsync("INSERT INTO items VALUES (1, 'a')");
        Assert.Single(await CountsAsync(run, mock.BootstrapServers, 1));

        const short addPartitionsToTxn = 24;
        mock.PushRequestErrors(addPartitionsToTxn, Confluent.Kafka.ErrorCode.ProducerFenced);
        await run.ExecuteAsync("INSERT INTO items VALUES (2, 'a')");

        var failure = Assert.IsType<KafkaFailureException>(await run.FailureAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(ExitCodes.KafkaFailure, failure.ExitCode);
        Assert.Contains("fenced", failure.Message);
        Assert.Contains("transactional.id", failure.Message);
    }

    [RealKafkaFact]
    public async Task A_second_instance_with_the_same_transactional_id_fences_the_first_which_exits_4()
    {
        var transactionalId = "fence-" + Guid.NewGuid().ToString("N")[..8];
        await using var first = await ReplicatorRun.CreateAsync(postgres, kafka, Items, c => ExactlyOnce(c, transactionalId));
        await using var second = await ReplicatorRun.CreateAsync(postgres, kafka, Items, c => ExactlyOnce(c, transactionalId));
        var log = new CapturingLoggerFactory();
        await first.StartAsync(log);
        await first.ExecuteAsync("INSERT INTO items VALUES (1, 'a')");
        Assert.Single(await CountsAsync(first, kafka.BootstrapServers, 1));

        await second.StartAsync();
        await second.ExecuteAsync("INSERT INTO items VALUES (1, 'b')"); // initialises transactions: fences the first
        Assert.Single(await CountsAsync(second, kafka.BootstrapServers, 1));
        await first.ExecuteAsync("INSERT INTO items VALUES (2, 'a')");

        var exception = await Record.ExceptionAsync(() => first.FailureAsync(TimeSpan.FromSeconds(30)));
        Assert.True(exception is null, $"{exception?.Message}. The first instance logged:\n{string.Join('\n', log.Lines)}");
        var failure = Assert.IsType<KafkaFailureException>(first.LastFailure);
        Assert.Equal(ExitCodes.KafkaFailure, failure.ExitCode);
        Assert.Contains("fenced", failure.Message);
        Assert.Contains("transactional.id", failure.Message);

        await second.ExecuteAsync("INSERT INTO items VALUES (2, 'b')");
        Assert.Equal(2, (await CountsAsync(second, kafka.BootstrapServers, 2)).Count); // the newer instance carries on
    }

    [Fact]
    public async Task An_aborted_kafka_transaction_is_streamed_again_without_loss()
    {
        using var mock = MockKafkaCluster.Start(brokers: 3);
        var log = new CapturingLoggerFactory();
        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka, Items, c => ExactlyOnce(c, brokers: mock.BootstrapServers));
        await run.StartAsync(log);
        await run.ExecuteAsync("INSERT INTO items SELECT g, 'before' FROM generate_series(1, 10) g");
        Assert.Equal(10, (await CountsAsync(run, mock.BootstrapServers, 10)).Count);

        // A non-retriable produce error makes the open Kafka transaction abortable.
        const short produce = 0;
        mock.PushRequestErrors(produce, Confluent.Kafka.ErrorCode.InvalidRecord);
        await run.ExecuteAsync("INSERT INTO items SELECT g, 'aborted once' FROM generate_series(11, 110) g");
        await run.ExecuteAsync("INSERT INTO items SELECT g, 'after' FROM generate_series(111, 210) g");

        var counts = await CountsAsync(run, mock.BootstrapServers, 210);
        Assert.Equal(210, counts.Count);
        // The mock broker shows aborted attempts to read_committed readers, so rows streamed again after
        // the abort may come more than once here; what was committed before the abort must not.
        Assert.All(Enumerable.Range(1, 10), id => Assert.Equal(1, counts[id]));
        Assert.Contains(log.Lines, l => l.Contains("Kafka transaction was aborted") && l.Contains("streaming again from the last committed checkpoint"));
        await run.StopAsync(); // still running, and stops cleanly
    }

    [Fact]
    public async Task A_transaction_the_brokers_refuse_every_time_ends_with_exit_4_after_five_aborts()
    {
        using var mock = MockKafkaCluster.Start(brokers: 3);
        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka, Items, c => ExactlyOnce(c, brokers: mock.BootstrapServers));
        await run.StartAsync();
        await run.ExecuteAsync("INSERT INTO items SELECT g, 'before' FROM generate_series(1, 10) g");
        Assert.Equal(10, (await CountsAsync(run, mock.BootstrapServers, 10)).Count);

        // Refused far more often than the replicator tries: each attempt streams again on a new producer.
        const short produce = 0;
        mock.PushRequestErrors(produce, Enumerable.Repeat(Confluent.Kafka.ErrorCode.InvalidRecord, 100).ToArray());
        await run.ExecuteAsync("INSERT INTO items SELECT g, 'refused' FROM generate_series(11, 20) g");

        var failure = Assert.IsType<KafkaFailureException>(await run.FailureAsync(TimeSpan.FromSeconds(60)));
        Assert.Equal(ExitCodes.KafkaFailure, failure.ExitCode);
        Assert.Contains("Kafka aborted 5 transactions in a row", failure.Message);
    }

    [Fact]
    public async Task Sigterm_under_load_then_restart_loses_and_duplicates_nothing()
    {
        var (run, configPath) = await CrashScenarios.PrepareAsync(postgres, kafka, "delivery = \"exactly_once\"");
        await using var _ = run;

        var (changes, result) = await CrashScenarios.SigtermUnderLoadAsync(run, configPath, kafka.BootstrapServers, targetChanges: 15_000);

        output.WriteLine($"{changes} changes: {result}");
        Assert.Equal(0, result.Missing);
        Assert.Equal(0, result.OutOfOrder);
        Assert.Equal(0, result.Duplicates);
    }

    [RealKafkaFact]
    public async Task Random_sigkills_lose_nothing_and_duplicate_nothing_on_a_real_broker()
    {
        var (run, configPath) = await CrashScenarios.PrepareAsync(postgres, kafka, "delivery = \"exactly_once\"");
        await using var _ = run;

        var (changes, kills, result) = await CrashScenarios.RandomKillsAsync(run, configPath, kafka.BootstrapServers, targetChanges: 100_000, minKills: 10);

        output.WriteLine($"exactly_once: {changes} changes, {kills} SIGKILLs: {result}");
        Assert.Equal(0, result.Missing);
        Assert.Equal(0, result.OutOfOrder);
        Assert.Equal(0, result.Duplicates);
    }
}
