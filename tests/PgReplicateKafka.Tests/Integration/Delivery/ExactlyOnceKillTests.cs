using PgReplicateKafka.Configuration;
using PgReplicateKafka.Embedded;

namespace PgReplicateKafka.Tests.Integration.Delivery;

/// <summary>
/// The real executable SIGKILLed at the two moments exactly-once is most fragile: with a Kafka
/// transaction open, and while its commit is in flight. The mock broker shows aborted records to
/// read_committed readers, so there the assertions are no loss and the slot's position; no duplicates
/// is asserted only against a real broker.
/// </summary>
[Collection(IntegrationCollection.Name)]
public class ExactlyOnceKillTests(PostgresFixture postgres, KafkaFixture kafka)
{
    private const string Items = "CREATE TABLE items (id int PRIMARY KEY, v text)";

    private static async Task<string> ConfigAsync(ReplicatorRun run, string replication)
    {
        var path = Path.Combine(Path.GetTempPath(), $"pgrk-{Guid.NewGuid():N}.toml");
        await File.WriteAllTextAsync(path, CliRuns.Toml(run.Config, run.Cluster.Username, run.Cluster.Password, "delivery = \"exactly_once\"\n" + replication));
        return path;
    }

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

    /// <summary>Restarts after the kill, lets it catch up, stops it gracefully (which commits) and checks every row.</summary>
    private static async Task RestartAndVerifyAsync(ReplicatorRun run, string configPath, string bootstrap, ulong written, bool assertNoDuplicates)
    {
        using var second = CliProcess.Start(["run", "--config", configPath]);
        await CliRuns.WaitForSlotActiveAsync(run, second);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        var counts = await CountsAsync(run, bootstrap, 500);
        while (counts.Count < 500 && DateTime.UtcNow < deadline)
            counts = await CountsAsync(run, bootstrap, 500);
        second.Signal("TERM");
        Assert.Equal(0, await second.WaitForExitAsync(TimeSpan.FromSeconds(20)));

        counts = await CountsAsync(run, bootstrap, 500);
        var missing = Enumerable.Range(1, 500).Where(id => !counts.ContainsKey(id)).ToList();
        Assert.True(missing.Count == 0, $"{missing.Count} rows lost, e.g. {string.Join(", ", missing.Take(10))}. Output:\n{second.Output}");
        // The graceful stop committed the Kafka transaction and only then confirmed it.
        Assert.True(await run.ConfirmedFlushLsnAsync() >= written, "PostgreSQL was not confirmed past the rows after the restart");
        if (assertNoDuplicates)
            Assert.All(counts, c => Assert.Equal(1, c.Value));
    }

    [Fact]
    public async Task A_sigkill_with_a_kafka_transaction_open_then_restart_loses_nothing()
    {
        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka, Items);
        // Nothing commits for a minute: the events sit in one open Kafka transaction.
        var configPath = await ConfigAsync(run, "transaction_max_ms = 60000\ntransaction_max_events = 1000000");
        using (var first = CliProcess.Start(["run", "--config", configPath]))
        {
            await CliRuns.WaitForSlotActiveAsync(run, first);
            for (var i = 0; i < 5; i++)
                await run.ExecuteAsync($"INSERT INTO items SELECT g, 'a' FROM generate_series({i * 100 + 1}, {(i + 1) * 100}) g");
            await Task.Delay(1500); // produced into the open transaction
            first.Signal("KILL");
            Assert.NotNull(await first.WaitForExitAsync(TimeSpan.FromSeconds(10)));
        }

        var written = await run.CurrentWalLsnAsync();
        Assert.True(await run.ConfirmedFlushLsnAsync() < written, "an open Kafka transaction must not have been confirmed to PostgreSQL");
        // The next instance's InitTransactions aborts the open transaction; its rows are streamed again.
        await RestartAndVerifyAsync(run, configPath, kafka.BootstrapServers, written, assertNoDuplicates: kafka.Mock is null);
    }

    [Fact]
    public async Task A_sigkill_while_the_kafka_commit_is_in_flight_then_restart_loses_nothing()
    {
        // Its own broker: the commit is slowed down by a round-trip time injected into it.
        using var mock = MockKafkaCluster.Start(brokers: 1);
        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka, Items, c => new ReplicatorConfig
        {
            Postgres = c.Postgres,
            Snapshot = c.Snapshot,
            Kafka = new KafkaConfig { Brokers = [mock.BootstrapServers], TopicPrefix = c.Kafka.TopicPrefix },
            Replication = c.Replication,
        });
        var configPath = await ConfigAsync(run, "transaction_max_ms = 1500\ntransaction_max_events = 1000000");
        using (var first = CliProcess.Start(["run", "--config", configPath]))
        {
            await CliRuns.WaitForSlotActiveAsync(run, first);
            for (var i = 0; i < 5; i++)
                await run.ExecuteAsync($"INSERT INTO items SELECT g, 'a' FROM generate_series({i * 100 + 1}, {(i + 1) * 100}) g");
            await Task.Delay(500);      // produced and acknowledged at normal speed
            mock.SetRtt(1, 5000);       // the commit, due 1.5 s after the first commit, now takes seconds
            await Task.Delay(1500);
            first.Signal("KILL");
            Assert.NotNull(await first.WaitForExitAsync(TimeSpan.FromSeconds(10)));
        }

        mock.SetRtt(1, 0);
        var written = await run.CurrentWalLsnAsync();
        // Whether the commit completed or not, the restart finds out from the checkpoint.
        await RestartAndVerifyAsync(run, configPath, mock.BootstrapServers, written, assertNoDuplicates: false);
    }
}
