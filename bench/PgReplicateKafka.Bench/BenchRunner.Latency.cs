using System.Diagnostics;
using Npgsql;

namespace PgReplicateKafka.Bench;

/// <summary>The latency workload: the replicator live under a steady write rate.</summary>
internal sealed partial class BenchRunner
{
    /// <summary>
    /// The replicator streams live while a paced writer commits a steady rate of changes; a consumer
    /// compares each event's commit time (source.ts_ms) with when it can read it from Kafka. Each run
    /// and delivery mode has its own slot, created just before its replicator starts, and its own topic:
    /// the mock broker finds a fetch's offset by walking the partition's batches from the first
    /// (rdkafka_mock.c, rd_kafka_mock_msgset_find), so in a topic shared by the runs every later run's
    /// fetches got slower (p99 24 ms in a first run, 120-160 ms in the fifth and sixth).
    /// </summary>
    private async Task<IReadOnlyList<WorkloadResult>> LatencyAsync()
    {
        const string name = "latency";
        var database = "bench_" + name;
        var connectionString = await cluster.PrepareAsync(database, Workloads.UsersTable, $"{database}.public.users");
        var measured = options.Deliveries.ToDictionary(d => d, _ => new List<WorkloadResult>());
        var sinkCpu = new List<double>();
        for (var run = 0; run < options.Runs; run++)
        {
            var shift = run % options.Deliveries.Count;
            string Slot(string delivery) => $"{database}_{Short(delivery)}_{run + 1}";
            foreach (var delivery in options.Deliveries.Skip(shift).Concat(options.Deliveries.Take(shift)))
            {
                progress.WriteLine($"[{name}] run {run + 1}/{options.Runs}: {options.LatencyRate:N0} changes/s for {options.LatencySeconds} s after a {options.LatencyWarmupSeconds} s warm-up, {delivery}");
                measured[delivery].Add(await LatencyRunAsync(database, connectionString, Slot(delivery), delivery));
            }

            // Replays a message of the run just measured, at its pace, in its transactions' size and for as many changes.
            progress.WriteLine($"[{name}] run {run + 1}/{options.Runs}: the Kafka producer alone at {options.LatencyRate:N0} messages/s");
            var sink = await SinkOnly.MeasureAsync(cluster, ReplicatorConfig(database, "unused", "at_least_once"), LatencyTopic(Slot(options.Deliveries[0])),
                (long)options.LatencyRate * options.LatencySeconds, new SinkOnly.Pace(options.LatencyRate, LatencyTransactionSize));
            sinkCpu.Add(sink.CpuSecondsPerMillion);
            progress.WriteLine($"[{name}] the Kafka producer alone at that pace: {sink.CpuSecondsPerMillion:0.00} CPU s per million");
        }

        await cluster.DropSlotsAsync(database);
        return options.Deliveries.Select(delivery =>
        {
            var runs = measured[delivery];
            double Median(Func<WorkloadResult, double> metric) => Measured.Of(runs.Select(metric).ToList()).Median;
            var rates = runs.Select(r => r.EndToEndRate).ToList();
            return runs[0] with
            {
                Runs = runs.Count,
                EndToEndRate = Measured.Of(rates).Median,
                EndToEnd = Measured.Of(rates),
                StartupTime = TimeSpan.FromMilliseconds(Median(r => r.StartupTime.TotalMilliseconds)),
                WriteTime = TimeSpan.FromMilliseconds(Median(r => r.WriteTime.TotalMilliseconds)),
                CpuSecondsPerMillion = Median(r => r.CpuSecondsPerMillion),
                PeakRssMb = Median(r => r.PeakRssMb),
                FirstChangeTime = TimeSpan.FromMilliseconds(Median(r => r.FirstChangeTime!.Value.TotalMilliseconds)),
                Latency = LatencyStats.Median(runs.Select(r => r.Latency!).ToList()),
                LatencyP99 = Measured.Of(runs.Select(r => r.Latency!.P99).ToList()),
                WarmupLatencyMax = runs.Max(r => r.WarmupLatencyMax),
                PacedSinkCpuSecondsPerMillion = Measured.Of(sinkCpu),
            };
        }).ToList();
    }

    // At most 500 transactions a second, so the writer's own round trips never limit the rate.
    private int LatencyTransactionSize => Math.Max(1, options.LatencyRate / 500);

    private static string LatencyTopic(string slot) => $"{slot}.public.users";

    private async Task<WorkloadResult> LatencyRunAsync(string database, string connectionString, string slot, string delivery)
    {
        await cluster.CreateSlotAsync(database, slot);
        var topic = LatencyTopic(slot);
        cluster.Kafka.CreateTopic(topic, BenchCluster.Partitions);
        var batch = LatencyTransactionSize;
        var warmupTransactions = (int)((long)options.LatencyRate * options.LatencyWarmupSeconds / batch);
        var warmupChanges = (long)warmupTransactions * batch;
        var transactions = Math.Max(1, (int)((long)options.LatencyRate * options.LatencySeconds / batch));
        var steadyChanges = (long)transactions * batch;

        // One change committed before the start measures process start to first change in Kafka.
        await cluster.Postgres.ExecuteAsync("INSERT INTO public.users (name) VALUES ('start-up probe')", database);
        var clock = Stopwatch.StartNew();
        using var consumer = new LatencyConsumer(cluster.Kafka.BootstrapServers, await cluster.EndOffsetsAsync(topic), delivery == "exactly_once", clock);
        using var replicator = ReplicatorProcess.Start(ReplicatorConfig(database, slot, delivery, topicPrefix: slot), options, clock, replicatorLog);
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
        if (consumer.Duplicates > 0)
            progress.WriteLine($"  ({consumer.Duplicates:N0} messages repeated a row already read and were left out)");
        replicator.Dispose();
        await cluster.DropSlotAsync(database, slot);

        return new WorkloadResult
        {
            Name = "latency",
            Description = $"a steady {options.LatencyRate:N0} changes/s for {options.LatencySeconds} s after a {options.LatencyWarmupSeconds} s warm-up ({batch} inserts per transaction)",
            Changes = steadyChanges,
            WriteTime = writeTime,
            StartupTime = ready,
            EndToEndRate = steadyChanges / (lastReceived - measuredStart).TotalSeconds,
            CpuSecondsPerMillion = cpu / steadyChanges * 1e6,
            PeakRssMb = peakRss / 1048576.0,
            Delivery = delivery,
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
}
