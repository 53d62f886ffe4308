using System.Diagnostics;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Npgsql;
using PgReplicateKafka.Embedded;

namespace PgReplicateKafka.Bench;

/// <summary>The throwaway PostgreSQL and Kafka broker every workload runs against.</summary>
internal sealed class BenchCluster : IAsyncDisposable
{
    public const string Publication = "bench_publication";

    /// <summary>Created before a workload is written and never read: every reader gets a copy of it, so all read the same WAL.</summary>
    public const string OriginSlot = "bench_origin";

    // Enough partitions that no partition reaches the mock broker's retention (5 MiB / 100,000
    // batches) before the end offsets are read; end offsets count messages even past retention.
    public const int Partitions = 32;

    private BenchCluster(TempPostgresCluster postgres, MockKafkaCluster kafka, IAdminClient admin)
    {
        Postgres = postgres;
        Kafka = kafka;
        Admin = admin;
        Log = new ServerLog(postgres.DataDirectory);
    }

    public TempPostgresCluster Postgres { get; }
    public MockKafkaCluster Kafka { get; }
    public IAdminClient Admin { get; }
    public ServerLog Log { get; }

    /// <summary>Where the replicator writes its exactly-once checkpoints for <paramref name="database"/>.</summary>
    public static string CheckpointTopic(string database) => database + ".checkpoints";

    public static async Task<BenchCluster> StartAsync()
    {
        var postgres = await TempPostgresCluster.StartAsync(new TempPostgresOptions
        {
            // No checkpoint in the middle of a workload: it would be noise in the measurement.
            ExtraSettings = new Dictionary<string, string>
            {
                ["max_wal_size"] = "8GB",
                ["checkpoint_timeout"] = "1h",
                // Vacuuming what oltp just updated and deleted would compete with whichever reader comes first.
                ["autovacuum"] = "off",
            }.Concat(ServerLog.Settings).ToDictionary(),
        });
        // The socket raw reader logs in without a password (it speaks the protocol by hand, SCRAM left out).
        await postgres.ExecuteAsync($"CREATE ROLE {SocketRawReader.Role} LOGIN REPLICATION");
        var hba = Path.Combine(postgres.DataDirectory, "pg_hba.conf");
        await File.WriteAllTextAsync(hba, $"host all {SocketRawReader.Role} 127.0.0.1/32 trust\n" + await File.ReadAllTextAsync(hba));
        await postgres.ExecuteAsync("SELECT pg_reload_conf()");
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
        Kafka.CreateTopic(CheckpointTopic(database), 1);
        return Postgres.ConnectionString(database);
    }

    public Task CreateSlotAsync(string database, string slot) =>
        Postgres.ExecuteAsync($"SELECT pg_create_logical_replication_slot('{slot}', 'pgoutput')", database);

    /// <summary>A new slot at the origin slot's position: it decodes exactly the WAL the origin would.</summary>
    public Task CopyOriginSlotAsync(string database, string slot) =>
        Postgres.ExecuteAsync($"SELECT pg_copy_logical_replication_slot('{OriginSlot}', '{slot}')", database);

    public Task DropSlotAsync(string database, string slot) =>
        Postgres.ExecuteAsync($"SELECT pg_drop_replication_slot('{slot}')", database);

    /// <summary>Drops the database's idle slots so their retained WAL and spill files go before the next workload.</summary>
    public Task DropSlotsAsync(string database) =>
        Postgres.ExecuteAsync(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = current_database() AND NOT active",
            database);

    /// <summary>
    /// The physical limit: PostgreSQL decoding the origin slot's WAL into pgoutput messages, in the
    /// server, with no client and no network (a peek, so the slot does not move). Returns the
    /// messages, the end LSN of the last commit, the wall time and the backend's CPU time.
    /// </summary>
    public async Task<(long Messages, string LastCommitLsn, TimeSpan Elapsed, double CpuSeconds)> DecodeAsync(string database, bool binary)
    {
        await using var connection = await Workloads.OpenAsync(Postgres.ConnectionString(database));
        var backend = connection.ProcessID;
        await using var peek = new NpgsqlCommand(
            $"""
            SELECT count(*), max(lsn)::text FROM pg_logical_slot_peek_binary_changes('{OriginSlot}', NULL, NULL,
                'proto_version', '1', 'publication_names', '{Publication}'{(binary ? ", 'binary', 'true'" : "")})
            """, connection)
        { CommandTimeout = 0 };
        var cpuBefore = ProcessCpu.Seconds(backend);
        var watch = Stopwatch.StartNew();
        await using var reader = await peek.ExecuteReaderAsync();
        await reader.ReadAsync();
        var elapsed = watch.Elapsed;
        var cpu = ProcessCpu.Seconds(backend) - cpuBefore;
        return (reader.GetInt64(0), reader.GetString(1), elapsed, cpu);
    }

    /// <summary>Each partition's end offset now, so a reader can start after everything written before.</summary>
    public async Task<List<TopicPartitionOffset>> EndOffsetsAsync(string topic)
    {
        var specs = Enumerable.Range(0, Partitions).Select(p => new TopicPartitionOffsetSpec
        {
            TopicPartition = new TopicPartition(topic, p),
            OffsetSpec = OffsetSpec.Latest(),
        });
        var result = await Admin.ListOffsetsAsync(specs, new ListOffsetsOptions { RequestTimeout = TimeSpan.FromSeconds(10) });
        return result.ResultInfos.Select(r => r.TopicPartitionOffsetError.TopicPartitionOffset).ToList();
    }

    /// <summary>
    /// How long to wait before asking for end offsets again. Asked every 10 ms, the harness's own queries (every
    /// partition of the topic each time) took a tenth of a core of the two from the replicator it measures; so far
    /// from <paramref name="expected"/> they are made every 100 ms, and in the last tenth every 10 ms, which still
    /// times the end within 10 ms.
    /// </summary>
    public static TimeSpan AckPollDelay(long count, long expected) =>
        count < expected - expected / 10 ? TimeSpan.FromMilliseconds(100) : TimeSpan.FromMilliseconds(10);

    /// <summary>Messages Kafka has acknowledged on <paramref name="topic"/>: the sum of its partitions' end offsets.</summary>
    public async Task<long> AcknowledgedAsync(string topic) => (await EndOffsetsAsync(topic)).Sum(o => o.Offset.Value);

    public async ValueTask DisposeAsync()
    {
        Admin.Dispose();
        Kafka.Dispose();
        await Postgres.DisposeAsync();
    }
}
