using Confluent.Kafka;
using Xunit.Abstractions;

namespace PgReplicateKafka.Tests.Integration.Snapshot;

/// <summary>A snapshot of the real executable survives SIGKILLs: each restart resumes after the last acknowledged chunk.</summary>
[Collection(IntegrationCollection.Name)]
public class SnapshotResumeTests(PostgresFixture postgres, KafkaFixture kafka, ITestOutputHelper output)
{
    private const int Rows = 100_000;
    private const int ChunkSize = 2_000;
    private const int Parallelism = 2;
    private const int Kills = 3;

    [Fact]
    public Task Three_sigkills_during_a_snapshot_read_again_at_most_parallelism_chunks_each_and_the_topic_replays_to_the_table() =>
        SigkillsDuringASnapshotAsync("at_least_once");

    /// <summary>
    /// Exactly-once: the chunk rows and their progress commit in one Kafka transaction, so a kill's open
    /// transaction is aborted whole by the next start. Not on the mock broker: it does not abort a killed
    /// producer's open transaction when the next one initializes (rdkafka_mock_handlers.c,
    /// InitProducerId only hands out a new producer id), so a progress record appended before the kill
    /// reads as committed while some of its chunk's rows were never appended; tried there, 1 run in 5
    /// reported 6-96 rows of the chunk before a resume point missing.
    /// </summary>
    [RealKafkaFact]
    public Task Exactly_once_three_sigkills_during_a_snapshot_lose_nothing_and_resume_from_the_committed_progress() =>
        SigkillsDuringASnapshotAsync("exactly_once");

    // The rows of a kill's open (then aborted) transaction are read again too: one transaction's worth.
    private const int TransactionMaxEvents = ChunkSize;

    private async Task SigkillsDuringASnapshotAsync(string delivery)
    {
        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka, $"""
            CREATE SEQUENCE ver;
            CREATE TABLE items (id int PRIMARY KEY, ver bigint NOT NULL DEFAULT nextval('ver'), note text);
            INSERT INTO items (id, note) SELECT g, 'before' FROM generate_series(1, {Rows}) g;
            ANALYZE items
            """);
        // The mock broker keeps ~5 MiB per partition: spread the READ events so the replay sees them all.
        kafka.Mock?.CreateTopic(run.Topic("items"), partitions: 64);
        var configPath = Path.Combine(Path.GetTempPath(), $"pgrk-{Guid.NewGuid():N}.toml");
        await File.WriteAllTextAsync(configPath, CliRuns.Toml(run.Config, run.Cluster.Username, run.Cluster.Password,
            replication: $"delivery = \"{delivery}\"\ntransaction_max_events = {TransactionMaxEvents}",
            snapshot: $"mode = \"initial\"\nchunk_size = {ChunkSize}\nparallelism = {Parallelism}"));

        using var counter = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig { BootstrapServers = kafka.BootstrapServers, GroupId = "count-" + Guid.NewGuid() })
            .SetErrorHandler((_, _) => { }).SetLogHandler((_, _) => { }).Build();
        using var admin = new DependentAdminClientBuilder(counter.Handle).Build();
        long Produced()
        {
            long sum = 0;
            foreach (var partition in admin.GetMetadata(run.Topic("items"), TimeSpan.FromSeconds(10)).Topics.Single().Partitions)
                sum += counter.QueryWatermarkOffsets(new TopicPartition(run.Topic("items"), partition.PartitionId), TimeSpan.FromSeconds(10)).High.Value;
            return sum;
        }

        var process = CliProcess.Start(["run", "--config", configPath]);
        var resumes = new List<string>();
        try
        {
            for (var kill = 1; kill <= Kills; kill++)
            {
                // Killed once every restart emitted a fresh share of the table, long before the snapshot can end.
                var target = Rows * kill / (Kills + 1);
                var deadline = DateTime.UtcNow.AddSeconds(30);
                while (Produced() < target)
                {
                    Assert.True(DateTime.UtcNow < deadline, $"fewer than {target} events within 30 s. Output:\n{process.Output}");
                    Assert.False(process.HasExited, $"the replicator exited. Output:\n{process.Output}");
                    await Task.Delay(50);
                }

                Assert.DoesNotContain("Snapshot of public.items done", process.Output);
                process.Signal("KILL");
                Assert.NotNull(await process.WaitForExitAsync(TimeSpan.FromSeconds(10)));
                process.Dispose();
                process = CliProcess.Start(["run", "--config", configPath]);
                await WaitForOutputAsync(process, "Snapshot of public.items resumes after", TimeSpan.FromSeconds(30));
                resumes.Add(process.Output.Split('\n').First(l => l.Contains("resumes after", StringComparison.Ordinal)).Trim());
            }

            await WaitForOutputAsync(process, "Snapshot of public.items done", TimeSpan.FromSeconds(60));
            await SnapshotPipelineTests.WaitDeliveredAsync(run);
            process.Signal("TERM");
            Assert.Equal(0, await process.WaitForExitAsync(TimeSpan.FromSeconds(15)));
        }
        finally
        {
            process.Dispose();
        }

        var replay = SnapshotReplay.Read(kafka.BootstrapServers, run.Topic("items"), TimeSpan.FromSeconds(60));
        var bound = Rows + (Kills * Parallelism * ChunkSize) + (delivery == "exactly_once" ? Kills * TransactionMaxEvents : 0);
        output.WriteLine($"{replay.Reads} READ events for {Rows} rows after {Kills} SIGKILLs (bound {bound}); {string.Join(" | ", resumes)}");
        Assert.Empty(replay.DifferencesFrom(await SnapshotReplay.TableAsync(run, "items")));
        Assert.Empty(replay.OrderViolations);
        Assert.True(replay.Reads <= bound, $"{replay.Reads} READ events: a restart read more than {Parallelism} x {ChunkSize} rows again");
    }

    private static async Task WaitForOutputAsync(CliProcess process, string text, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!process.Output.Contains(text, StringComparison.Ordinal))
        {
            Assert.True(DateTime.UtcNow < deadline, $"no line \"{text}\" within {timeout.TotalSeconds} s. Output:\n{process.Output}");
            Assert.False(process.HasExited, $"the replicator exited. Output:\n{process.Output}");
            await Task.Delay(100);
        }
    }
}
