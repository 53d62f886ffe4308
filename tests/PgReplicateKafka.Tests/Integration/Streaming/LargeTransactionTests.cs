using Confluent.Kafka;
using Xunit.Abstractions;

namespace PgReplicateKafka.Tests.Integration.Streaming;

/// <summary>Memory stays bounded by the in-flight budget, not by the size of a transaction or a row.</summary>
[Collection(IntegrationCollection.Name)]
public class LargeTransactionTests(PostgresFixture postgres, KafkaFixture kafka, ITestOutputHelper output)
{
    private const long PeakRssLimit = 200L * 1024 * 1024;

    // A 5 MB row exists several times over while in flight (the row, its JSON, librdkafka's copy and
    // LZ4's) and leaves large-object garbage until a gen-2 collection: 272-309 MiB measured on
    // 2026-12-03 (the limit was 300 and failed CI once), against the 1 GB the transaction holds.
    private const long LargeRowPeakRssLimit = 350L * 1024 * 1024;

    [Fact]
    public async Task A_transaction_of_500_000_rows_streams_with_bounded_memory()
    {
        var peak = await MeasurePeakRssAsync(
            "CREATE TABLE users (id bigserial PRIMARY KEY, name text, email text, created_at timestamptz, score numeric(10,2), active bool)",
            "INSERT INTO users (name, email, created_at, score, active) " +
            "SELECT 'user ' || g, 'user' || g || '@example.com', now(), (g % 100000) / 100.0, g % 2 = 0 FROM generate_series(1, 500000) g",
            extraToml: "", table: "users", rows: 500_000);
        Assert.True(peak < PeakRssLimit, $"peak RSS {peak / 1048576} MiB exceeds {PeakRssLimit / 1048576} MiB");
    }

    [Fact]
    public async Task Two_hundred_rows_of_5_MB_stream_with_bounded_memory()
    {
        var peak = await MeasurePeakRssAsync(
            "CREATE TABLE blobs (id int PRIMARY KEY, v text); ALTER TABLE blobs ALTER COLUMN v SET COMPRESSION lz4",
            "INSERT INTO blobs SELECT g, repeat(md5(g::text), 163840) FROM generate_series(1, 200) g",
            extraToml: """

                [kafka.properties]
                message.max.bytes = 6000000
                """, table: "blobs", rows: 200);
        Assert.True(peak < LargeRowPeakRssLimit, $"peak RSS {peak / 1048576} MiB exceeds {LargeRowPeakRssLimit / 1048576} MiB");
    }

    /// <summary>Runs the workload through the real CLI and returns its peak RSS, once Kafka holds every row.</summary>
    private async Task<long> MeasurePeakRssAsync(string setupSql, string workloadSql, string extraToml, string table, long rows)
    {
        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka, setupSql);
        var configPath = Path.Combine(Path.GetTempPath(), $"pgrk-{Guid.NewGuid():N}.toml");
        await File.WriteAllTextAsync(configPath, CliRuns.Toml(run.Config, run.Cluster.Username, run.Cluster.Password) + extraToml);
        using var process = CliProcess.Start(["run", "--config", configPath]);
        await CliRuns.WaitForSlotActiveAsync(run, process);

        var started = DateTime.UtcNow;
        await run.ExecuteAsync(workloadSql);
        var end = await run.CurrentWalLsnAsync();
        var written = DateTime.UtcNow;
        while (await run.ConfirmedFlushLsnAsync() < end)
        {
            Assert.True(DateTime.UtcNow - written < TimeSpan.FromMinutes(3), $"not everything was delivered within 3 minutes. Output:\n{process.Output}");
            Assert.False(process.HasExited, $"the replicator exited. Output:\n{process.Output}");
            await Task.Delay(200);
        }

        // Confirmed means acknowledged; the topic must also hold each row exactly once (no restart, an idempotent
        // producer). End offsets, not a read: the test broker keeps only the newest few MiB of a partition.
        Assert.Equal(rows, MessagesIn(run.Topic(table)));
        var peak = PeakRss(process.Id);
        output.WriteLine($"peak RSS {peak / 1048576.0:0.0} MiB; written in {(written - started).TotalSeconds:0.0} s, delivered {(DateTime.UtcNow - written).TotalSeconds:0.0} s later");
        Console.WriteLine($"[{nameof(LargeTransactionTests)}] {workloadSql[..40]}...: peak RSS {peak / 1048576.0:0.0} MiB");
        process.Signal("TERM");
        Assert.Equal(0, await process.WaitForExitAsync(TimeSpan.FromSeconds(10)));
        return peak;
    }

    private long MessagesIn(string topic)
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = kafka.BootstrapServers }).Build();
        var partitions = admin.GetMetadata(topic, TimeSpan.FromSeconds(10)).Topics.Single().Partitions;
        using var consumer = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig { BootstrapServers = kafka.BootstrapServers, GroupId = "large-transaction-tests" }).Build();
        return partitions.Sum(p => consumer.QueryWatermarkOffsets(new TopicPartition(topic, p.PartitionId), TimeSpan.FromSeconds(10)).High.Value);
    }

    /// <summary>VmHWM: the process's peak resident set size.</summary>
    private static long PeakRss(int pid)
    {
        var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
    }
}
