using System.Diagnostics;
using System.Globalization;
using System.Text;
using Npgsql;

namespace PgReplicateKafka.Bench;

/// <summary>Runs the workloads against one <see cref="BenchCluster"/> and measures the replicator on each.</summary>
internal sealed class BenchRunner(BenchCluster cluster, BenchOptions options, TextWriter progress, TextWriter? replicatorLog)
{
    // A replicator that acknowledges nothing for this long is stuck, not slow.
    private static readonly TimeSpan StallTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan AckPollInterval = TimeSpan.FromMilliseconds(10);

    public Task<WorkloadResult> RunAsync(string workload) => workload switch
    {
        "bulk" => ThroughputAsync("bulk", $"one transaction inserting {options.BulkRows:N0} rows into users",
            Workloads.UsersTable, "users", options.BulkRows, cs => Workloads.BulkAsync(cs, options.BulkRows)),
        "oltp" => ThroughputAsync("oltp", $"{options.OltpTransactions:N0} single-change transactions (50% insert, 30% update, 20% delete) from {options.OltpWriters} writers",
            Workloads.UsersTable, "users", options.OltpTransactions, cs => Workloads.OltpAsync(cs, options.OltpTransactions, options.OltpWriters)),
        "wide" => ThroughputAsync("wide", $"{options.WideRows:N0} rows of 20 columns (jsonb, numeric, timestamptz, 200-byte text, arrays) in transactions of 10,000",
            Workloads.WideTable, "wide", options.WideRows, cs => Workloads.WideAsync(cs, options.WideRows)),
        "latency" => LatencyAsync(),
        "snapshot-users" or "snapshot-wide" => new SnapshotWorkload(cluster, progress)
            .RunAsync(workload["snapshot-".Length..], options.SnapshotRows, database => ReplicatorConfig(database, database), replicatorLog),
        _ => throw new ArgumentException($"unknown workload {workload}"),
    };

    /// <summary>
    /// Writes the workload with both slots in place and nothing reading them, then reads the same WAL
    /// twice: pg_recvlogical (the ceiling), then the replicator, timed from its start-up being over
    /// to Kafka's acknowledgement of the last change.
    /// </summary>
    private async Task<WorkloadResult> ThroughputAsync(string name, string description, string createTable, string table, long changes, Func<string, Task> write)
    {
        var database = "bench_" + name;
        var topic = $"{database}.public.{table}";
        var connectionString = await cluster.PrepareAsync(database, createTable, topic);
        await cluster.CreateSlotAsync(database, BenchCluster.ReplicatorSlot);
        await cluster.CreateSlotAsync(database, BenchCluster.RawSlot);

        progress.WriteLine($"[{name}] writing: {description}");
        var writing = Stopwatch.StartNew();
        await write(connectionString);
        var writeTime = writing.Elapsed;
        var endLsn = await cluster.FlushLsnAsync(database);

        progress.WriteLine($"[{name}] reading the raw pgoutput stream with pg_recvlogical up to {endLsn}");
        var ceilingTime = await cluster.ReadRawSlotAsync(database, endLsn);

        progress.WriteLine($"[{name}] streaming with pg-replicate-kafka");
        var clock = Stopwatch.StartNew();
        using var replicator = ReplicatorProcess.Start(ReplicatorConfig(database, database), clock, replicatorLog);
        var ready = await WaitReadyAsync(replicator);
        var cpuAtStart = replicator.CpuSeconds();
        var done = await WaitForAcknowledgedAsync(topic, changes, replicator, clock);
        var cpu = replicator.CpuSeconds() - cpuAtStart;
        var peakRss = replicator.PeakRssBytes();
        replicator.Dispose();
        await cluster.DropSlotsAsync(database);

        return new WorkloadResult
        {
            Name = name,
            Description = description,
            Changes = changes,
            WriteTime = writeTime,
            StartupTime = ready,
            EndToEndRate = changes / (done - ready).TotalSeconds,
            CeilingRate = changes / ceilingTime.TotalSeconds,
            CpuSecondsPerMillion = cpu / changes * 1e6,
            PeakRssMb = peakRss / 1048576.0,
        };
    }

    /// <summary>
    /// The replicator streams live while a paced writer commits a steady rate of changes; a consumer
    /// compares each event's commit time (source.ts_ms) with when it can read it from Kafka.
    /// </summary>
    private async Task<WorkloadResult> LatencyAsync()
    {
        const string name = "latency";
        var database = "bench_" + name;
        var topic = $"{database}.public.users";
        var connectionString = await cluster.PrepareAsync(database, Workloads.UsersTable, topic);
        await cluster.CreateSlotAsync(database, BenchCluster.ReplicatorSlot);

        // At most 500 transactions a second, so the writer's own round trips never limit the rate.
        var batch = Math.Max(1, options.LatencyRate / 500);
        var warmupTransactions = (int)((long)options.LatencyRate * options.LatencyWarmupSeconds / batch);
        var warmupChanges = (long)warmupTransactions * batch;
        var transactions = Math.Max(1, (int)((long)options.LatencyRate * options.LatencySeconds / batch));
        var steadyChanges = (long)transactions * batch;
        var description = $"a steady {options.LatencyRate:N0} changes/s for {options.LatencySeconds} s after a {options.LatencyWarmupSeconds} s warm-up ({batch} inserts per transaction)";
        progress.WriteLine($"[{name}] {description}");

        // One change committed before the start measures process start to first change in Kafka.
        await cluster.Postgres.ExecuteAsync("INSERT INTO public.users (name) VALUES ('start-up probe')", database);
        var clock = Stopwatch.StartNew();
        using var consumer = new LatencyConsumer(cluster.Kafka.BootstrapServers, topic, BenchCluster.Partitions, clock);
        using var replicator = ReplicatorProcess.Start(ReplicatorConfig(database, database), clock, replicatorLog);
        var ready = await WaitReadyAsync(replicator);
        var firstChange = await consumer.WaitForAsync(1, replicator, StallTimeout);

        // One paced stream: the warm-up's changes are left out of the measurement, not the load.
        var writing = Stopwatch.StartNew();
        var writer = PacedInsertsAsync(connectionString, warmupTransactions + transactions, batch, options.LatencyRate);
        var measuredStart = await consumer.WaitForAsync(1 + warmupChanges, replicator, StallTimeout);
        var cpuAtStart = replicator.CpuSeconds();
        await writer;
        var writeTime = writing.Elapsed;
        var lastReceived = await consumer.WaitForAsync(1 + warmupChanges + steadyChanges, replicator, StallTimeout);
        var cpu = replicator.CpuSeconds() - cpuAtStart;
        var peakRss = replicator.PeakRssBytes();
        replicator.Dispose();
        await cluster.DropSlotsAsync(database);

        return new WorkloadResult
        {
            Name = name,
            Description = description,
            Changes = steadyChanges,
            WriteTime = writeTime,
            StartupTime = ready,
            EndToEndRate = steadyChanges / (lastReceived - measuredStart).TotalSeconds,
            CpuSecondsPerMillion = cpu / steadyChanges * 1e6,
            PeakRssMb = peakRss / 1048576.0,
            FirstChangeTime = firstChange,
            Latency = consumer.Statistics(skip: 1 + (int)warmupChanges),
            WarmupLatencyMax = warmupChanges > 0 ? consumer.Max(skip: 1, count: (int)warmupChanges) : null,
        };
    }

    /// <summary>Commits transaction k of <paramref name="batch"/> inserts at k * batch / rate seconds after the start.</summary>
    private static async Task PacedInsertsAsync(string connectionString, int transactions, int batch, int rate)
    {
        await using var connection = await Workloads.OpenAsync(connectionString);
        await using var insert = new NpgsqlCommand(
            "INSERT INTO public.users (name, email, score) SELECT 'paced ' || g, 'paced' || g || '@example.com', (g % 10000) / 100.0 FROM generate_series($1, $2) g",
            connection);
        insert.Parameters.Add(new NpgsqlParameter<long> { TypedValue = 0 });
        insert.Parameters.Add(new NpgsqlParameter<long> { TypedValue = 0 });
        await insert.PrepareAsync();
        var clock = Stopwatch.StartNew();
        for (var k = 0; k < transactions; k++)
        {
            var due = TimeSpan.FromSeconds((double)k * batch / rate);
            var wait = due - clock.Elapsed;
            if (wait > TimeSpan.FromMilliseconds(1))
                await Task.Delay(wait);
            ((NpgsqlParameter<long>)insert.Parameters[0]).TypedValue = (long)k * batch + 1;
            ((NpgsqlParameter<long>)insert.Parameters[1]).TypedValue = (long)(k + 1) * batch;
            await insert.ExecuteNonQueryAsync();
        }
    }

    private static async Task<TimeSpan> WaitReadyAsync(ReplicatorProcess replicator)
    {
        var exited = Task.Run(async () =>
        {
            while (!replicator.HasExited)
                await Task.Delay(50);
        });
        var first = await Task.WhenAny(replicator.Ready, exited, Task.Delay(StallTimeout));
        if (first != replicator.Ready)
        {
            replicator.ThrowIfExited();
            throw new TimeoutException($"the replicator did not start streaming within {StallTimeout.TotalSeconds} s:\n{replicator.Output}");
        }

        return await replicator.Ready;
    }

    /// <summary>Polls the topic's end offsets until <paramref name="expected"/> messages are acknowledged; returns when, on <paramref name="clock"/>.</summary>
    private async Task<TimeSpan> WaitForAcknowledgedAsync(string topic, long expected, ReplicatorProcess replicator, Stopwatch clock)
    {
        var lastCount = -1L;
        var lastProgress = clock.Elapsed;
        while (true)
        {
            var count = await cluster.AcknowledgedAsync(topic);
            var now = clock.Elapsed;
            if (count >= expected)
                return now;
            replicator.ThrowIfExited();
            if (count != lastCount)
            {
                lastCount = count;
                lastProgress = now;
            }
            else if (now - lastProgress > StallTimeout)
            {
                throw new TimeoutException($"Kafka acknowledged {count:N0} of {expected:N0} changes and nothing more for {StallTimeout.TotalSeconds} s:\n{replicator.Output}");
            }

            await Task.Delay(AckPollInterval);
        }
    }

    private string ReplicatorConfig(string database, string topicPrefix)
    {
        var postgres = cluster.Postgres;
        var toml = new StringBuilder();
        toml.AppendLine(CultureInfo.InvariantCulture, $"""
            [postgres]
            host = "{postgres.Host}"
            port = {postgres.Port}
            database = "{database}"
            username = "{postgres.Username}"
            password = "{postgres.Password}"
            publication = "{BenchCluster.Publication}"
            slot_name = "{BenchCluster.ReplicatorSlot}"
            sslmode = "disable"

            [kafka]
            brokers = ["{cluster.Kafka.BootstrapServers}"]
            topic_prefix = "{topicPrefix}"

            [replication]
            checkpoint_interval_secs = 1

            [kafka.properties]
            """);
        foreach (var (key, value) in options.ProducerProperties)
            toml.AppendLine(CultureInfo.InvariantCulture, $"\"{key}\" = \"{value}\"");
        return toml.ToString();
    }
}
