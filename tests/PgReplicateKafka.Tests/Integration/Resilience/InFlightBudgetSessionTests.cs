using PgReplicateKafka.Configuration;

namespace PgReplicateKafka.Tests.Integration.Resilience;

/// <summary>max_in_flight_bytes across sessions: what one session left with Kafka still counts in the next.</summary>
[Collection(IntegrationCollection.Name)]
public class InFlightBudgetSessionTests(PostgresFixture postgres, KafkaFixture kafka)
{
    private const long Limit = 256 * 1024;
    private const int Rows = 600;

    [Fact]
    public async Task Messages_a_lost_session_left_unacknowledged_count_against_the_next_sessions_budget()
    {
        // Kafka acknowledges nothing until the test says so, as while brokers are slow or away.
        var producer = new InMemoryProducer();
        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka, "CREATE TABLE items (id int PRIMARY KEY, v text)", c => new ReplicatorConfig
        {
            Postgres = c.Postgres,
            Kafka = c.Kafka,
            Snapshot = c.Snapshot,
            Format = c.Format,
            Replication = new ReplicationConfig
            {
                CheckpointIntervalSecs = 1,
                KeepaliveIntervalSecs = 1,
                PollIntervalMs = 50,
                RetryInitialMs = 100,
                RetryMaxMs = 200,
                ShutdownTimeoutSecs = 1,
                MaxInFlightBytes = Limit,
            },
        });
        var log = new CapturingLoggerFactory();
        await run.StartAsync(log, _ => producer);
        // Rows of 4 KB in transactions of 10. The first 50, most of the budget, stay unacknowledged while the
        // receive loop reads on (a loop that waits for room would not notice the lost connection).
        await InsertAsync(run, 1, 50);
        await WaitUntilAsync(() => Produced(producer).Count == 50, () => "the first session did not produce the first 50 rows");

        // The lost connection starts a session on the same producer, whose messages are still unacknowledged;
        // it streams them again (they were never confirmed), then the rest, as far as the budget lets it.
        var walsender = await run.ScalarAsync<int>($"SELECT active_pid FROM pg_replication_slots WHERE slot_name = '{run.Config.Postgres.SlotName}'");
        await run.ExecuteAsync($"SELECT pg_terminate_backend({walsender})");
        await WaitUntilAsync(
            async () => await run.ScalarAsync<long>(
                $"SELECT count(*) FROM pg_stat_replication r JOIN pg_replication_slots s ON s.active_pid = r.pid WHERE s.slot_name = '{run.Config.Postgres.SlotName}' AND r.pid <> {walsender} AND r.state = 'streaming'") > 0,
            () => "the replicator did not reconnect. Log:\n" + string.Join("\n", log.Lines));
        await InsertAsync(run, 51, Rows);
        await Task.Delay(TimeSpan.FromSeconds(2)); // time for the new session to stream, if the budget lets it

        // Bytes handed to the producer are counted until reported, so they stay within the limit, give or take
        // the JSON's few percent over the rows and one event.
        var max = producer.MaxUnacknowledgedBytes;
        Assert.True(max <= Limit * 5 / 4, $"{max:N0} bytes were produced and unacknowledged at once, over the {Limit:N0}-byte budget");

        // Reports of the lost sessions' messages arrive now: they free their own bytes, not room for more.
        using var acknowledging = new CancellationTokenSource();
        var acknowledger = Task.Run(async () =>
        {
            while (!acknowledging.IsCancellationRequested)
            {
                producer.AcknowledgeAll();
                await Task.Delay(20);
            }
        });
        await WaitUntilAsync(() => Produced(producer).Count == Rows, () => "not every row was produced");
        await run.StopAsync();
        await acknowledging.CancelAsync();
        await acknowledger;
        Assert.True(producer.MaxUnacknowledgedBytes <= Limit * 5 / 4, $"{producer.MaxUnacknowledgedBytes:N0} bytes were produced and unacknowledged at once, over the {Limit:N0}-byte budget");
    }

    private static async Task InsertAsync(ReplicatorRun run, int first, int last)
    {
        for (var id = first; id <= last; id += 10)
            await run.ExecuteAsync($"INSERT INTO items SELECT g, repeat('x', 4096) FROM generate_series({id}, {Math.Min(id + 9, last)}) g");
    }

    private static HashSet<int> Produced(InMemoryProducer producer) =>
        [.. producer.CopyProduced().Select(m => (int)System.Text.Json.Nodes.JsonNode.Parse(m.Value!)!["after"]!["id"]!)];

    private static Task WaitUntilAsync(Func<bool> condition, Func<string> failure) => WaitUntilAsync(() => Task.FromResult(condition()), failure);

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, Func<string> failure)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, failure());
            await Task.Delay(50);
        }
    }
}
