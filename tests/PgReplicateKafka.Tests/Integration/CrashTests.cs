using PgReplicateKafka.Tests.Fixtures;
using Xunit.Abstractions;

namespace PgReplicateKafka.Tests.Integration;

/// <summary>The delivery promise under crashes: the real executable is SIGKILLed while a workload writes.</summary>
[Collection(IntegrationCollection.Name)]
public class CrashTests(PostgresFixture postgres, KafkaFixture kafka, ITestOutputHelper output)
{
    private async Task<(ReplicatorRun Run, string ConfigPath)> PrepareAsync(string extraToml = "")
    {
        var run = await ReplicatorRun.CreateAsync(postgres, kafka, CrashWorkload.Schema);
        // The mock broker keeps ~5 MiB per partition: spread the topics so nothing is dropped before the verifier reads it.
        foreach (var table in new[] { "a", "b" })
            kafka.Mock?.CreateTopic(run.Topic(table), partitions: 32);
        var configPath = Path.Combine(Path.GetTempPath(), $"pgrk-{Guid.NewGuid():N}.toml");
        await File.WriteAllTextAsync(configPath, CliRunTests.Toml(run.Config, run.Cluster.Username, run.Cluster.Password) + extraToml);
        return (run, configPath);
    }

    private static async Task WaitUntilDeliveredAsync(ReplicatorRun run, CliProcess process)
    {
        var end = await run.CurrentWalLsnAsync();
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (await run.ConfirmedFlushLsnAsync() < end)
        {
            Assert.True(DateTime.UtcNow < deadline, $"the replicator did not catch up. Output:\n{process.Output}");
            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task At_least_once_loses_nothing_and_keeps_key_order_across_10_random_sigkills()
    {
        var (run, configPath) = await PrepareAsync();
        await using var _ = run;
        var process = CliProcess.Start(["run", "--config", configPath]);
        try
        {
            await CliRunTests.WaitForSlotActiveAsync(run, process);
            var workload = new CrashWorkload(run.Cluster.ConnectionString(run.Database), targetChanges: 100_000, changesPerSecond: 6_000);
            var writing = Task.Run(workload.RunAsync);

            var random = new Random();
            var kills = 0;
            var inFlight = new List<(ulong, ulong)>();
            while (kills < 10 || !writing.IsCompleted)
            {
                await Task.Delay(random.Next(600, 2000));
                inFlight.Add((await run.ConfirmedFlushLsnAsync(), await run.CurrentWalLsnAsync()));
                process.Signal("KILL");
                Assert.NotNull(await process.WaitForExitAsync(TimeSpan.FromSeconds(10)));
                kills++;
                process.Dispose();
                // Restarted at once: it waits as standby until PostgreSQL releases the dead walsender's slot.
                process = CliProcess.Start(["run", "--config", configPath]);
            }

            await writing;
            await WaitUntilDeliveredAsync(run, process);
            process.Signal("TERM");
            Assert.Equal(0, await process.WaitForExitAsync(TimeSpan.FromSeconds(10)));

            var result = await CrashWorkload.VerifyAsync(run, kafka.BootstrapServers, workload.Changes, inFlight);
            output.WriteLine($"{workload.Changes} changes, {kills} SIGKILLs: {result}");
            Console.WriteLine($"[{nameof(CrashTests)}] at_least_once: {workload.Changes} changes, {kills} SIGKILLs: {result}");
            Assert.Equal(0, result.Missing);
            Assert.Equal(0, result.OutOfOrder);
            // Only what was in flight (committed after the slot's confirmed position) at each kill can come again.
            Assert.True(result.Duplicates <= result.InFlightAtKills, $"more duplicates than changes in flight at the kills: {result}");
        }
        finally
        {
            process.Dispose();
        }
    }

    [Fact]
    public async Task At_least_once_sigterm_under_load_then_restart_loses_and_duplicates_nothing()
    {
        var (run, configPath) = await PrepareAsync();
        await using var _ = run;
        var workload = new CrashWorkload(run.Cluster.ConnectionString(run.Database), targetChanges: 20_000, changesPerSecond: 6_000);
        Task writing;
        using (var first = CliProcess.Start(["run", "--config", configPath]))
        {
            await CliRunTests.WaitForSlotActiveAsync(run, first);
            writing = Task.Run(workload.RunAsync);
            await Task.Delay(1500);
            first.Signal("TERM");
            var code = await first.WaitForExitAsync(TimeSpan.FromSeconds(10));
            Assert.True(code == 0, $"expected exit 0 after SIGTERM, got {code}. Output:\n{first.Output}");
        }

        using var second = CliProcess.Start(["run", "--config", configPath]);
        await writing;
        await WaitUntilDeliveredAsync(run, second);
        second.Signal("TERM");
        Assert.Equal(0, await second.WaitForExitAsync(TimeSpan.FromSeconds(10)));

        var result = await CrashWorkload.VerifyAsync(run, kafka.BootstrapServers, workload.Changes);
        output.WriteLine($"{workload.Changes} changes: {result}");
        Assert.Equal(0, result.Missing);
        Assert.Equal(0, result.OutOfOrder);
        Assert.Equal(0, result.Duplicates);
    }
}
