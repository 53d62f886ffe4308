
namespace PgReplicateKafka.Tests.Integration.Resilience;

/// <summary>Two instances with one config: one streams, the other waits as standby and takes over when the first dies.</summary>
[Collection(IntegrationCollection.Name)]
public class FailoverTests(PostgresFixture postgres, KafkaFixture kafka)
{
    [Fact]
    public async Task A_standby_on_the_same_slot_takes_over_when_the_active_instance_is_killed()
    {
        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka, "CREATE TABLE items (id int PRIMARY KEY, v text)");
        var configPath = await CliRuns.WriteConfigAsync(run, run.Cluster.Username, run.Cluster.Password);
        using var active = CliProcess.Start(["run", "--config", configPath]);
        await CliRuns.WaitForSlotActiveAsync(run, active);
        var activePid = await run.ScalarAsync<int>($"SELECT active_pid FROM pg_replication_slots WHERE slot_name = '{run.Config.Postgres.SlotName}'");

        using var standby = CliProcess.Start(["run", "--config", configPath]);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!standby.Output.Contains("waiting as standby"))
        {
            Assert.True(DateTime.UtcNow < deadline && !standby.HasExited, $"the second instance did not wait as standby. Output:\n{standby.Output}");
            await Task.Delay(50);
        }

        var writer = new RowWriter(run.Cluster, run.Database, batches: 40, rowsPerBatch: 50, TimeSpan.FromMilliseconds(25));
        var writing = writer.RunAsync();
        await writer.WaitForBatchesAsync(10);
        active.Signal("KILL");
        await writing;

        deadline = DateTime.UtcNow.AddSeconds(30);
        while (await run.ScalarAsync<int>($"SELECT coalesce(active_pid, 0) FROM pg_replication_slots WHERE slot_name = '{run.Config.Postgres.SlotName}'") is var pid && (pid == 0 || pid == activePid))
        {
            Assert.True(DateTime.UtcNow < deadline, $"the standby did not take over the slot. Output:\n{standby.Output}");
            await Task.Delay(50);
        }

        var counts = await run.AssertEveryRowDeliveredAsync(kafka.BootstrapServers);
        Assert.Equal(2000, counts.Count);
        Assert.Contains("Streaming publication", standby.Output);
        standby.Signal("TERM");
        Assert.Equal(0, await standby.WaitForExitAsync(TimeSpan.FromSeconds(10)));
    }
}
