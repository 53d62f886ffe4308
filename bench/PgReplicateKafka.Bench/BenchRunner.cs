using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace PgReplicateKafka.Bench;

/// <summary>Runs the workloads against one <see cref="BenchCluster"/> and measures the replicator on each.</summary>
internal sealed partial class BenchRunner(BenchCluster cluster, BenchOptions options, TextWriter progress, TextWriter? replicatorLog)
{
    // A replicator that acknowledges nothing for this long is stuck, not slow.
    private static readonly TimeSpan StallTimeout = TimeSpan.FromSeconds(60);

    public Task<IReadOnlyList<WorkloadResult>> RunAsync(string workload) => workload switch
    {
        "bulk" => ThroughputAsync("bulk", $"one transaction inserting {options.BulkRows:N0} rows into users",
            Workloads.UsersTable, "users", options.BulkRows, cs => Workloads.BulkAsync(cs, options.BulkRows)),
        "oltp" => ThroughputAsync("oltp", $"{options.OltpTransactions:N0} single-change transactions (50% insert, 30% update, 20% delete) from {options.OltpWriters} writers",
            Workloads.UsersTable, "users", options.OltpTransactions, cs => Workloads.OltpAsync(cs, options.OltpTransactions, options.OltpWriters)),
        "wide" => ThroughputAsync("wide", $"{options.WideRows:N0} rows of 20 columns (jsonb, numeric, timestamptz, 200-byte text, arrays) in transactions of 10,000",
            Workloads.WideTable, "wide", options.WideRows, cs => Workloads.WideAsync(cs, options.WideRows)),
        "latency" => LatencyAsync(),
        "snapshot-users" or "snapshot-wide" => SnapshotAsync(workload["snapshot-".Length..]),
        _ => throw new ArgumentException($"unknown workload {workload}"),
    };

    private Task<IReadOnlyList<WorkloadResult>> SnapshotAsync(string shape) =>
        new SnapshotWorkload(cluster, progress, options).RunAsync(
            shape, options.SnapshotRows, (database, slot, delivery, prefix) => ReplicatorConfig(database, slot, delivery, snapshotMode: "initial_only", topicPrefix: prefix), replicatorLog);

    /// <summary>
    /// Writes the workload after creating the origin slot, with nothing reading, then reads the same
    /// WAL run after run: the server's decode (text, then binary), then pg_recvlogical and the
    /// replicator in each delivery mode, in an order that rotates from run to run. One reader at a
    /// time, so none competes with another or with the writers for the two cores.
    /// </summary>
    private async Task<IReadOnlyList<WorkloadResult>> ThroughputAsync(string name, string description, string createTable, string table, long changes, Func<string, Task> write)
    {
        var database = "bench_" + name;
        var topic = $"{database}.public.{table}";
        var connectionString = await cluster.PrepareAsync(database, createTable, topic);
        await cluster.CreateSlotAsync(database, BenchCluster.OriginSlot);

        progress.WriteLine($"[{name}] writing: {description}");
        var writing = Stopwatch.StartNew();
        await write(connectionString);
        var writeTime = writing.Elapsed;
        // Dirty buffers written now, not by the background writer while a reader is timed.
        await cluster.Postgres.ExecuteAsync("CHECKPOINT", database);

        var raw = new List<double>();
        var rawBinary = new List<double>();
        var rawSocket = new List<double>();
        var decode = new List<double>();
        var binary = new List<double>();
        var decodeCpu = new List<double>();
        var sinkRate = new List<double>();
        var sinkCpu = new List<double>();
        var streamed = options.Deliveries.ToDictionary(d => d, _ => new List<StreamRun>());
        string[] readers = ["raw", "raw-binary", "raw-socket", .. options.Deliveries];
        for (var run = 0; run < options.Runs; run++)
        {
            var label = $"[{name}] run {run + 1}/{options.Runs}:";
            progress.WriteLine($"{label} server-side decode (text, binary)");
            var text = await cluster.DecodeAsync(database, binary: false);
            var bin = await cluster.DecodeAsync(database, binary: true);
            decode.Add(changes / text.Elapsed.TotalSeconds);
            binary.Add(changes / bin.Elapsed.TotalSeconds);
            decodeCpu.Add(text.CpuSeconds / changes * 1e6);
            progress.WriteLine($"{label} server-side decode {decode[^1]:N0} changes/s (text), {binary[^1]:N0} (binary)");
            // Every reader stops at the end of the workload's last commit, which the decode found.
            var lastCommit = text.LastCommitLsn;
            foreach (var reader in readers.Skip(run % readers.Length).Concat(readers.Take(run % readers.Length)))
            {
                var slot = $"{database}_{(reader.StartsWith("raw", StringComparison.Ordinal) ? reader.Replace('-', '_') : Short(reader))}_{run + 1}";
                await cluster.CopyOriginSlotAsync(database, slot);
                if (reader == "raw-socket")
                {
                    progress.WriteLine($"{label} socket raw reader up to {lastCommit}");
                    var (done, messages) = await SocketRawReader.ReadAsync(cluster, database, slot, lastCommit, binary: false);
                    if (messages != text.Messages)
                        throw new InvalidOperationException($"the socket raw reader read {messages} messages where the server decoded {text.Messages}");
                    rawSocket.Add(changes / (done - await cluster.Log.StartReplicationAsync(slot)).TotalSeconds);
                    progress.WriteLine($"{label} socket raw reader read {rawSocket[^1]:N0} changes/s");
                }
                else if (reader.StartsWith("raw", StringComparison.Ordinal))
                {
                    var inBinary = reader == "raw-binary";
                    var rates = inBinary ? rawBinary : raw;
                    progress.WriteLine($"{label} pg_recvlogical{(inBinary ? " (binary)" : "")} up to {lastCommit}");
                    var done = await RawReader.ReadAsync(cluster, database, slot, lastCommit, inBinary);
                    rates.Add(changes / (done - await cluster.Log.StartReplicationAsync(slot)).TotalSeconds);
                    progress.WriteLine($"{label} pg_recvlogical{(inBinary ? " (binary)" : "")} read {rates[^1]:N0} changes/s");
                }
                else
                {
                    progress.WriteLine($"{label} pg-replicate-kafka, {reader}");
                    streamed[reader].Add(await StreamAsync(database, topic, slot, reader, changes, lastCommit));
                    progress.WriteLine($"{label} pg-replicate-kafka, {reader}: {streamed[reader][^1].Rate:N0} changes/s");
                }

                await cluster.DropSlotAsync(database, slot);
            }

            // Replays a message the replicator wrote, so only once it has written some.
            progress.WriteLine($"{label} the Kafka producer alone, on prebuilt messages");
            var sink = await SinkOnly.MeasureAsync(cluster, ReplicatorConfig(database, "unused", "at_least_once"), topic, Math.Max(changes, SinkOnly.MinimumMessages));
            sinkRate.Add(sink.Rate);
            sinkCpu.Add(sink.CpuSecondsPerMillion);
            progress.WriteLine($"{label} the Kafka producer alone: {sink.Rate:N0} messages/s, {sink.CpuSecondsPerMillion:0.00} CPU s per million");
        }

        await cluster.DropSlotsAsync(database);
        // The ceiling of each run is its faster raw reader: neither can be beaten by a client doing more.
        var ceiling = raw.Select((r, i) => Math.Max(r, rawSocket[i])).ToList();
        var limits = new ReaderLimits(Measured.Of(raw), Measured.Of(rawBinary), Measured.Of(rawSocket), Measured.Of(ceiling), Measured.Of(decode), Measured.Of(binary),
            Measured.Of(decodeCpu), Measured.Of(ceiling.Select((r, i) => r / decode[i]).ToList()), Measured.Of(sinkRate), Measured.Of(sinkCpu));
        return options.Deliveries.Select(delivery =>
        {
            var runs = streamed[delivery];
            var rates = runs.Select(r => r.Rate).ToList();
            return new WorkloadResult
            {
                Name = name,
                Description = description,
                Changes = changes,
                WriteTime = writeTime,
                StartupTime = TimeSpan.FromMilliseconds(Measured.Of(runs.Select(r => r.Startup.TotalMilliseconds).ToList()).Median),
                EndToEndRate = Measured.Of(rates).Median,
                CpuSecondsPerMillion = Measured.Of(runs.Select(r => r.CpuSecondsPerMillion).ToList()).Median,
                PeakRssMb = Measured.Of(runs.Select(r => r.PeakRssMb).ToList()).Median,
                Delivery = delivery,
                Runs = runs.Count,
                EndToEnd = Measured.Of(rates),
                Limits = limits,
                RawRatio = Measured.Of(rates.Select((r, i) => r / ceiling[i]).ToList()),
                DecodeRatio = Measured.Of(rates.Select((r, i) => r / decode[i]).ToList()),
            };
        }).ToList();
    }

    /// <summary>
    /// The replicator on a copy of the origin slot, timed from the server receiving its
    /// START_REPLICATION to Kafka holding the last change: acknowledged (at-least-once) or committed
    /// (exactly-once).
    /// </summary>
    private async Task<StreamRun> StreamAsync(string database, string topic, string slot, string delivery, long changes, string lastCommit)
    {
        var baseline = await cluster.AcknowledgedAsync(topic);
        using var checkpoints = delivery == "exactly_once" ? new CheckpointWatcher(cluster.Kafka.BootstrapServers, BenchCluster.CheckpointTopic(database)) : null;
        var spawned = DateTime.UtcNow;
        var clock = Stopwatch.StartNew();
        using var replicator = ReplicatorProcess.Start(ReplicatorConfig(database, slot, delivery), options, clock, replicatorLog);
        var ready = await WaitReadyAsync(replicator);
        var done = checkpoints is null
            ? await WaitForAcknowledgedAsync(topic, baseline + changes, replicator)
            : await checkpoints.WaitForAsync(slot, lastCommit, replicator, StallTimeout);
        var cpuAtDone = replicator.CpuSeconds();
        var peakRss = replicator.PeakRssBytes();
        var started = await cluster.Log.StartReplicationAsync(slot);
        var cpu = cpuAtDone - replicator.CpuSecondsAt(started);
        // What timing from the log line instead would have left out.
        progress.WriteLine($"  (its \"Streaming\" log line came {(spawned + ready - started).TotalMilliseconds:N0} ms after the server received its START_REPLICATION)");
        return new StreamRun(changes / (done - started).TotalSeconds, cpu / changes * 1e6, peakRss / 1048576.0, ready);
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

    /// <summary>Polls the topic's end offsets until <paramref name="expected"/> messages are acknowledged; returns when (UTC).</summary>
    private async Task<DateTime> WaitForAcknowledgedAsync(string topic, long expected, ReplicatorProcess replicator)
    {
        var lastCount = -1L;
        var lastProgress = DateTime.UtcNow;
        while (true)
        {
            var count = await cluster.AcknowledgedAsync(topic);
            var now = DateTime.UtcNow;
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

            await Task.Delay(BenchCluster.AckPollDelay(count, expected));
        }
    }

    /// <summary>
    /// The replicator's configuration: default settings but for the slot, the delivery mode, a 1 s checkpoint interval and
    /// the snapshot mode: never for the streaming workloads, whose counts and timings must hold only streamed changes
    /// (a slot the harness created has no snapshot recorded, so the default mode would also read the table's rows).
    /// Topics are named after the database unless <paramref name="topicPrefix"/> says otherwise.
    /// </summary>
    private string ReplicatorConfig(string database, string slot, string delivery, string snapshotMode = "never", string? topicPrefix = null)
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
            slot_name = "{slot}"
            sslmode = "disable"

            [kafka]
            brokers = ["{cluster.Kafka.BootstrapServers}"]
            topic_prefix = "{topicPrefix ?? database}"
            checkpoint_topic = "{BenchCluster.CheckpointTopic(database)}"

            [replication]
            checkpoint_interval_secs = 1
            delivery = "{delivery}"

            # Completion is counted in end offsets, one per change: a delete's tombstone would count as a change.
            [format]
            tombstones = false

            [snapshot]
            mode = "{snapshotMode}"

            [kafka.properties]
            """);
        foreach (var (key, value) in options.ProducerProperties)
            toml.AppendLine(CultureInfo.InvariantCulture, $"\"{key}\" = \"{value}\"");
        return toml.ToString();
    }

    private static string Short(string delivery) => delivery == "exactly_once" ? "eo" : "alo";

    private sealed record StreamRun(double Rate, double CpuSecondsPerMillion, double PeakRssMb, TimeSpan Startup);
}
