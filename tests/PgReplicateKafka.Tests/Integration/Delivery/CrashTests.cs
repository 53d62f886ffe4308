using Xunit.Abstractions;

namespace PgReplicateKafka.Tests.Integration.Delivery;

/// <summary>At-least-once under crashes: the real executable is SIGKILLed while a workload writes.</summary>
[Collection(IntegrationCollection.Name)]
public class CrashTests(PostgresFixture postgres, KafkaFixture kafka, ITestOutputHelper output)
{
    [Fact]
    public async Task At_least_once_loses_nothing_and_keeps_key_order_across_10_random_sigkills()
    {
        var (run, configPath) = await CrashScenarios.PrepareAsync(postgres, kafka);
        await using var _ = run;

        var (changes, kills, result) = await CrashScenarios.RandomKillsAsync(run, configPath, kafka.BootstrapServers, targetChanges: 100_000, minKills: 10);

        output.WriteLine($"{changes} changes, {kills} SIGKILLs: {result}");
        Console.WriteLine($"[{nameof(CrashTests)}] at_least_once: {changes} changes, {kills} SIGKILLs: {result}");
        Assert.Equal(0, result.Missing);
        Assert.Equal(0, result.OutOfOrder);
        // Only what was in flight (committed after the slot's confirmed position) at each kill can come again.
        Assert.True(result.Duplicates <= result.InFlightAtKills, $"more duplicates than changes in flight at the kills: {result}");
    }

    [Fact]
    public async Task At_least_once_sigterm_under_load_then_restart_loses_and_duplicates_nothing()
    {
        var (run, configPath) = await CrashScenarios.PrepareAsync(postgres, kafka);
        await using var _ = run;

        var (changes, result) = await CrashScenarios.SigtermUnderLoadAsync(run, configPath, kafka.BootstrapServers, targetChanges: 20_000);

        output.WriteLine($"{changes} changes: {result}");
        Assert.Equal(0, result.Missing);
        Assert.Equal(0, result.OutOfOrder);
        Assert.Equal(0, result.Duplicates);
    }
}
