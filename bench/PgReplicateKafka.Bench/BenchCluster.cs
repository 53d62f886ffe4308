using System.Diagnostics;
using System.Globalization;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Npgsql;
using PgReplicateKafka.Embedded;

namespace PgReplicateKafka.Bench;

/// <summary>The throwaway PostgreSQL and Kafka broker every workload runs against.</summary>
internal sealed class BenchCluster : IAsyncDisposable
{
    public const string Publication = "bench_publication";
    public const string ReplicatorSlot = "bench_replicator";
    public const string RawSlot = "bench_raw";

    // Enough partitions that no partition reaches the mock broker's retention (5 MiB / 100,000
    // batches) before the end offsets are read; end offsets count messages even past retention.
    public const int Partitions = 32;

    private BenchCluster(TempPostgresCluster postgres, MockKafkaCluster kafka, IAdminClient admin)
    {
        Postgres = postgres;
        Kafka = kafka;
        Admin = admin;
    }

    public TempPostgresCluster Postgres { get; }
    public MockKafkaCluster Kafka { get; }
    public IAdminClient Admin { get; }

    public static async Task<BenchCluster> StartAsync()
    {
        var postgres = await TempPostgresCluster.StartAsync(new TempPostgresOptions
        {
            // No checkpoint in the middle of a workload: it would be noise in the measurement.
            ExtraSettings = new Dictionary<string, string> { ["max_wal_size"] = "8GB", ["checkpoint_timeout"] = "1h" },
        });
        var kafka = MockKafkaCluster.Start(brokers: 1);
        var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = kafka.BootstrapServers }).Build();
        return new BenchCluster(postgres, kafka, admin);
    }

    /// <summary>A fresh database with the workload's table and a publication of it, and a many-partition topic.</summary>
    public async Task<string> PrepareAsync(string database, string createTable, string topic)
    {
        await Postgres.CreateDatabaseAsync(database);
        await Postgres.ExecuteAsync($"{createTable}; CREATE PUBLICATION {Publication} FOR ALL TABLES;", database);
        Kafka.CreateTopic(topic, Partitions);
        return Postgres.ConnectionString(database);
    }

    public Task CreateSlotAsync(string database, string slot) =>
        Postgres.ExecuteAsync($"SELECT pg_create_logical_replication_slot('{slot}', 'pgoutput')", database);

    /// <summary>Drops the slots so their retained WAL and spill files go before the next workload.</summary>
    public async Task DropSlotsAsync(string database)
    {
        await Postgres.ExecuteAsync(
            $"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name IN ('{ReplicatorSlot}', '{RawSlot}') AND NOT active",
            database);
    }

    /// <summary>The WAL position every change of the workload lies before.</summary>
    public async Task<string> FlushLsnAsync(string database) =>
        (await Postgres.ScalarAsync<string>("SELECT pg_current_wal_flush_lsn()::text", database))!;

    /// <summary>
    /// The raw ceiling: PostgreSQL's own client reading the pgoutput stream of <see cref="RawSlot"/>
    /// up to <paramref name="endLsn"/> and throwing it away. Returns its wall time.
    /// </summary>
    public async Task<TimeSpan> ReadRawSlotAsync(string database, string endLsn)
    {
        var start = new ProcessStartInfo(Path.Combine(Postgres.BinDir, "pg_recvlogical"))
        {
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in (string[])[
                     "-h", Postgres.Host, "-p", Postgres.Port.ToString(CultureInfo.InvariantCulture), "-U", Postgres.Username,
                     "-d", database, "-S", RawSlot, "--start", "-E", endLsn, "--no-loop",
                     "-P", "pgoutput", "-o", "proto_version=1", "-o", "publication_names=" + Publication,
                     // -F 0: /dev/null cannot be fsynced.
                     "-f", "/dev/null", "-F", "0"])
            start.ArgumentList.Add(arg);
        start.Environment["PGPASSWORD"] = Postgres.Password;

        var watch = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        var elapsed = watch.Elapsed;
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"pg_recvlogical failed with exit code {process.ExitCode}: {(await stderr).Trim()}");
        return elapsed;
    }

    /// <summary>Messages Kafka has acknowledged on <paramref name="topic"/>: the sum of its partitions' end offsets.</summary>
    public async Task<long> AcknowledgedAsync(string topic)
    {
        var specs = Enumerable.Range(0, Partitions).Select(p => new TopicPartitionOffsetSpec
        {
            TopicPartition = new TopicPartition(topic, p),
            OffsetSpec = OffsetSpec.Latest(),
        });
        var result = await Admin.ListOffsetsAsync(specs, new ListOffsetsOptions { RequestTimeout = TimeSpan.FromSeconds(10) });
        return result.ResultInfos.Sum(r => r.TopicPartitionOffsetError.Offset.Value);
    }

    public async ValueTask DisposeAsync()
    {
        Admin.Dispose();
        Kafka.Dispose();
        await Postgres.DisposeAsync();
    }
}
