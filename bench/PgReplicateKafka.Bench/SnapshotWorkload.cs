using System.Diagnostics;
using Npgsql;

namespace PgReplicateKafka.Bench;

/// <summary>
/// The initial snapshot of a table already full of rows: the replicator with <c>[snapshot] mode =
/// "initial_only"</c> reads every published table into Kafka, then exits 0. The ceiling is PostgreSQL's own
/// <c>COPY (SELECT …) TO STDOUT</c> of the same table, read and discarded, in the same run.
/// </summary>
internal sealed class SnapshotWorkload(BenchCluster cluster, TextWriter progress, BenchOptions options)
{
    // A replicator that acknowledges nothing for this long is stuck, not slow.
    private static readonly TimeSpan StallTimeout = TimeSpan.FromSeconds(60);

    /// <param name="config">The replicator's TOML for a database, a slot, a delivery mode and a topic prefix.</param>
    public async Task<IReadOnlyList<WorkloadResult>> RunAsync(string shape, int rows, Func<string, string, string, string, string> config, TextWriter? replicatorLog)
    {
        var (createTable, table, fill) = shape == "users"
            ? (Workloads.UsersTable, "users", (Func<string, Task>)(cs => Workloads.BulkAsync(cs, rows)))
            : (Workloads.WideTable, "wide", cs => Workloads.WideAsync(cs, rows));
        var name = $"snapshot-{shape}";
        var database = "bench_snapshot_" + shape;
        var connectionString = await cluster.PrepareAsync(database, createTable, $"{database}.public.{table}");
        var description = $"initial snapshot of {rows:N0} rows of {table} ([snapshot] mode = \"initial_only\"); ceiling: COPY (SELECT …) TO STDOUT";

        progress.WriteLine($"[{name}] filling {table} with {rows:N0} rows");
        var writing = Stopwatch.StartNew();
        await fill(connectionString);
        await cluster.Postgres.ExecuteAsync($"VACUUM ANALYZE public.{table}", database);
        var writeTime = writing.Elapsed;

        // A snapshot run takes seconds and a busy machine moves it by a fifth: --runs runs per mode, the modes
        // alternating, each run with the raw read it is compared with just before it.
        var measured = options.Deliveries.ToDictionary(d => d, _ => new List<SnapshotRun>());
        for (var run = 0; run < options.Runs; run++)
        {
            var shift = run % options.Deliveries.Count;
            foreach (var delivery in options.Deliveries.Skip(shift).Concat(options.Deliveries.Take(shift)))
            {
                progress.WriteLine($"[{name}] run {run + 1}/{options.Runs}: COPY (SELECT * FROM public.{table}) TO STDOUT, discarded");
                var copyRate = rows / (await CopyOutAsync(connectionString, table)).TotalSeconds;
                progress.WriteLine($"[{name}] run {run + 1}/{options.Runs}: snapshotting with pg-replicate-kafka, {delivery}");
                // Each run on its own slot and topics (so its own snapshot progress): each snapshots the whole table.
                var prefix = $"{database}_{(delivery == "exactly_once" ? "eos" : "alo")}_{run + 1}";
                measured[delivery].Add(await SnapshotRunAsync(database, prefix, table, rows, delivery, copyRate, config, replicatorLog));
                await cluster.DropSlotsAsync(database);
            }
        }

        return options.Deliveries.Select(delivery =>
        {
            var runs = measured[delivery];
            double Median(Func<SnapshotRun, double> metric) => Measured.Of(runs.Select(metric).ToList()).Median;
            var rates = runs.Select(r => r.Rate).ToList();
            return new WorkloadResult
            {
                Name = name,
                Description = description,
                Delivery = delivery,
                Runs = runs.Count,
                Changes = rows,
                WriteTime = writeTime,
                StartupTime = TimeSpan.FromMilliseconds(Median(r => r.Startup.TotalMilliseconds)),
                EndToEndRate = Measured.Of(rates).Median,
                EndToEnd = Measured.Of(rates),
                CopyRate = Median(r => r.CopyRate),
                RawRatio = Measured.Of(runs.Select(r => r.Rate / r.CopyRate).ToList()),
                CpuSecondsPerMillion = Median(r => r.CpuSecondsPerMillion),
                PeakRssMb = Median(r => r.PeakRssMb),
            };
        }).ToList();
    }

    private sealed record SnapshotRun(double Rate, double CopyRate, double CpuSecondsPerMillion, double PeakRssMb, TimeSpan Startup);

    private async Task<SnapshotRun> SnapshotRunAsync(
        string database, string prefix, string table, int rows, string delivery, double copyRate, Func<string, string, string, string, string> config, TextWriter? replicatorLog)
    {
        var exactlyOnce = delivery == "exactly_once";
        var topic = $"{prefix}.public.{table}";
        cluster.Kafka.CreateTopic(topic, BenchCluster.Partitions);
        // As a real cluster's CreateTopics would have made it: the test broker has no CreateTopics API and
        // names no controller, and the replicator's wait for one (3 s) was a third of a 1,000,000-row run.
        cluster.Kafka.CreateTopic($"{prefix}.pg-replicate-kafka.snapshots", 1);
        var clock = Stopwatch.StartNew();
        using var replicator = ReplicatorProcess.Start(config(database, prefix, delivery, prefix), options, clock, replicatorLog);
        // The process ends by itself: sample CPU and RSS while it runs, since /proc forgets them at exit.
        // Exactly-once: end offsets count transaction markers too, so the end is the exit, which
        // initial_only reaches once the last chunk's transaction is committed (its shutdown included).
        var (done, cpu, peakRss) = await WaitForRowsAsync(topic, exactlyOnce ? long.MaxValue : rows, replicator, clock);
        var exitCode = await WaitForExitAsync(replicator);
        if (exitCode != 0)
            throw new InvalidOperationException($"the snapshot run exited with code {exitCode}, not 0:\n{replicator.Output}");
        // From process start: a snapshot's rows flow from the first page on, so start-up is part of its cost.
        var rate = rows / done.TotalSeconds;
        progress.WriteLine($"[snapshot-{table}] {rate:N0} rows/s, {cpu / rows * 1e6:0.00} CPU s per million rows, {delivery}");
        return new SnapshotRun(
            rate, copyRate, cpu / rows * 1e6, peakRss / 1048576.0,
            replicator.Ready.IsCompletedSuccessfully ? replicator.Ready.Result : TimeSpan.Zero);
    }

    private static async Task<TimeSpan> CopyOutAsync(string connectionString, string table)
    {
        await using var connection = await Workloads.OpenAsync(connectionString);
        var clock = Stopwatch.StartNew();
        using (var reader = await connection.BeginTextExportAsync($"COPY (SELECT * FROM public.{table}) TO STDOUT"))
        {
            var buffer = new char[1 << 16];
            while (await reader.ReadAsync(buffer) > 0)
            {
                // discarded, as into /dev/null
            }
        }

        return clock.Elapsed;
    }

    private async Task<(TimeSpan Done, double Cpu, long PeakRss)> WaitForRowsAsync(string topic, long expected, ReplicatorProcess replicator, Stopwatch clock)
    {
        double cpu = 0;
        long peakRss = 0;
        var lastCount = -1L;
        var count = 0L;
        var lastProgress = clock.Elapsed;
        var nextQuery = TimeSpan.Zero;
        while (true)
        {
            // CPU, RSS and the exit every 10 ms; end offsets as often as BenchCluster.AckPollDelay says.
            if (replicator.TrySample(out var sampledCpu, out var sampledRss))
                (cpu, peakRss) = (sampledCpu, Math.Max(peakRss, sampledRss));
            var exited = replicator.HasExited;
            if (clock.Elapsed >= nextQuery || exited)
            {
                count = await cluster.AcknowledgedAsync(topic);
                nextQuery = clock.Elapsed + BenchCluster.AckPollDelay(count, expected);
            }

            var now = clock.Elapsed;
            if (count >= expected)
                return (now, cpu, peakRss);
            if (exited && expected == long.MaxValue)
                return (now, cpu, peakRss);
            if (exited)
                throw new InvalidOperationException($"the replicator exited after {count:N0} of {expected:N0} rows:\n{replicator.Output}");
            if (count != lastCount)
                (lastCount, lastProgress) = (count, now);
            else if (now - lastProgress > StallTimeout)
                throw new TimeoutException($"Kafka acknowledged {count:N0} of {expected:N0} rows and nothing more for {StallTimeout.TotalSeconds} s:\n{replicator.Output}");
            await Task.Delay(10);
        }
    }

    private static async Task<int> WaitForExitAsync(ReplicatorProcess replicator)
    {
        var deadline = DateTime.UtcNow + StallTimeout;
        while (!replicator.HasExited)
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"the snapshot run did not exit within {StallTimeout.TotalSeconds} s of its last row:\n{replicator.Output}");
            await Task.Delay(50);
        }

        return replicator.ExitCode;
    }
}
