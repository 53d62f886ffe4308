
namespace PgReplicateKafka.Tests.Support;

/// <summary>The crash scenarios both delivery modes are tested with: the real executable, a <see cref="CrashWorkload"/>, signals.</summary>
public static class CrashScenarios
{
    /// <summary>A database with the workload's tables and a config file; <paramref name="replication"/> adds [replication] keys.</summary>
    public static async Task<(ReplicatorRun Run, string ConfigPath)> PrepareAsync(PostgresFixture postgres, KafkaFixture kafka, string replication = "")
    {
        var run = await ReplicatorRun.CreateAsync(postgres, kafka, CrashWorkload.Schema);
        // The mock broker keeps ~5 MiB per partition: spread the topics so nothing is dropped before the verifier reads it.
        foreach (var table in new[] { "a", "b" })
            kafka.Mock?.CreateTopic(run.Topic(table), partitions: 32);
        var configPath = Path.Combine(Path.GetTempPath(), $"pgrk-{Guid.NewGuid():N}.toml");
        await File.WriteAllTextAsync(configPath, CliRuns.Toml(run.Config, run.Cluster.Username, run.Cluster.Password, replication));
        return (run, configPath);
    }

    /// <summary>
    /// Writes the workload while SIGKILLing the replicator at random moments (at least <paramref name="minKills"/> times), restarting it each time.
    /// Before the first kill it streams undisturbed for 8 s, and what the slot has not confirmed then must be at most 4 s of the WAL written:
    /// checkpoint_interval_secs (1 s in these runs) plus 3 s for Kafka's acknowledgements and the slot's update on a busy machine. So the duplicates a kill
    /// can cause are bounded by periodic confirmation, not only by whatever happened to be unconfirmed (all of it, were confirmation to stop).
    /// </summary>
    public static async Task<(long Changes, int Kills, VerifyResult Result)> RandomKillsAsync(
        ReplicatorRun run, string configPath, string bootstrap, int targetChanges, int minKills)
    {
        var process = CliProcess.Start(["run", "--config", configPath]);
        try
        {
            await CliRuns.WaitForSlotActiveAsync(run, process);
            var workload = new CrashWorkload(run.Cluster.ConnectionString(run.Database), targetChanges, changesPerSecond: 6_000);
            var writtenBefore = await run.CurrentWalLsnAsync();
            var writing = Task.Run(workload.RunAsync);
            await Task.Delay(8000);
            var (confirmed, written) = (await run.ConfirmedFlushLsnAsync(), await run.CurrentWalLsnAsync());
            var walPerSecond = (written - writtenBefore) / 8.0;
            Assert.True(written - Math.Max(confirmed, writtenBefore) <= 4 * walPerSecond,
                $"the slot lagged {written - confirmed} bytes of WAL behind after 8 s of streaming, more than 4 s of the workload ({4 * walPerSecond:0} bytes): " +
                $"periodic confirmation did not keep up. Output:\n{process.Output}");

            var random = new Random();
            var kills = 0;
            var inFlight = new List<(ulong, ulong)>();
            while (kills < minKills || !writing.IsCompleted)
            {
                await Task.Delay(random.Next(600, 2000));
                process.Signal("KILL");
                Assert.NotNull(await process.WaitForExitAsync(TimeSpan.FromSeconds(10)));
                // Read once the process is gone: the writer goes on between a read and the signal, and the
                // changes the process sent in that gap come again after the restart too.
                inFlight.Add((await run.ConfirmedFlushLsnAsync(), await run.CurrentWalLsnAsync()));
                kills++;
                process.Dispose();
                // Restarted at once: it waits as standby until PostgreSQL releases the dead walsender's slot.
                process = CliProcess.Start(["run", "--config", configPath]);
            }

            await writing;
            await StopWhenDeliveredAsync(run, process);
            return (workload.Changes, kills, await CrashWorkload.VerifyAsync(run, bootstrap, workload.Changes, inFlight));
        }
        finally
        {
            process.Dispose();
        }
    }

    /// <summary>Writes the workload, stops the replicator with SIGTERM part-way, restarts it, and verifies.</summary>
    public static async Task<(long Changes, VerifyResult Result)> SigtermUnderLoadAsync(ReplicatorRun run, string configPath, string bootstrap, int targetChanges)
    {
        var workload = new CrashWorkload(run.Cluster.ConnectionString(run.Database), targetChanges, changesPerSecond: 5_000);
        Task writing;
        using (var first = CliProcess.Start(["run", "--config", configPath]))
        {
            await CliRuns.WaitForSlotActiveAsync(run, first);
            writing = Task.Run(workload.RunAsync);
            await Task.Delay(1500);
            first.Signal("TERM");
            var code = await first.WaitForExitAsync(TimeSpan.FromSeconds(10));
            Assert.True(code == 0, $"expected exit 0 after SIGTERM, got {code}. Output:\n{first.Output}");
        }

        using var second = CliProcess.Start(["run", "--config", configPath]);
        await writing;
        await StopWhenDeliveredAsync(run, second);
        return (workload.Changes, await CrashWorkload.VerifyAsync(run, bootstrap, workload.Changes));
    }

    /// <summary>
    /// Waits until the process streams and the slot is confirmed up to the server's current WAL (everything
    /// delivered), then SIGTERM: exit 0. Streaming first: a process killed after it confirmed everything
    /// leaves nothing to wait for, and a SIGTERM in a process's first milliseconds, before any program
    /// code runs, ends it with the runtime's default (143), not a graceful stop.
    /// </summary>
    private static async Task StopWhenDeliveredAsync(ReplicatorRun run, CliProcess process)
    {
        var end = await run.CurrentWalLsnAsync();
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (!process.Output.Contains("Streaming publication") || await run.ConfirmedFlushLsnAsync() < end)
        {
            Assert.True(DateTime.UtcNow < deadline, $"the replicator did not catch up. Output:\n{process.Output}");
            await Task.Delay(100);
        }

        process.Signal("TERM");
        Assert.Equal(0, await process.WaitForExitAsync(TimeSpan.FromSeconds(10)));
    }
}
