using PgReplicateKafka.Configuration;
using static PgReplicateKafka.Tests.Support.ChangeMessage;

namespace PgReplicateKafka.Tests.Integration.Operations;

/// <summary>The executable end to end: config file, signals, exit codes.</summary>
[Collection(IntegrationCollection.Name)]
public class CliRunTests(PostgresFixture postgres, KafkaFixture kafka)
{
    private const string SecretPassword = "Xyzzy-Secret-8841";

    [Fact]
    public async Task Sigterm_exits_0_within_10_s_with_the_slot_confirmed_up_to_the_last_delivered_commit()
    {
        await using var run = await CreateRunWithOwnRoleAsync("CREATE TABLE items (id int PRIMARY KEY, v text)");
        var configPath = await CliRuns.WriteConfigAsync(run, "rk_user", SecretPassword);
        using var process = CliProcess.Start(["run", "--config", configPath]);
        await CliRuns.WaitForSlotActiveAsync(run, process);

        for (var i = 0; i < 20; i++)
            await run.ExecuteAsync($"INSERT INTO items SELECT g, 'batch {i}' FROM generate_series({i * 50 + 1}, {(i + 1) * 50}) g");
        var lastCommit = await run.CurrentWalLsnAsync();
        var messages = await ConsumeAsync(kafka, [run.Topic("items")], 1000);
        Assert.Equal(1000, messages.Count);

        process.Signal("TERM");
        var code = await process.WaitForExitAsync(TimeSpan.FromSeconds(10));
        Assert.True(code == 0, $"expected exit 0 within 10 s of SIGTERM, got {code?.ToString() ?? "no exit"}. Output:\n{process.Output}");
        Assert.True(await run.ConfirmedFlushLsnAsync() >= lastCommit, "confirmed_flush_lsn is behind the last delivered commit");
        Assert.DoesNotContain(SecretPassword, process.Output);
        Assert.Contains("Confirmed", process.Output);
    }

    [Fact]
    public async Task Sigkill_then_restart_loses_no_change()
    {
        await using var run = await CreateRunWithOwnRoleAsync("CREATE TABLE items (id int PRIMARY KEY, v text)");
        var configPath = await CliRuns.WriteConfigAsync(run, "rk_user", SecretPassword);

        Task writer;
        using (var first = CliProcess.Start(["run", "--config", configPath]))
        {
            await CliRuns.WaitForSlotActiveAsync(run, first); // changes before the slot exists are not part of the stream
            writer = Task.Run(async () =>
            {
                for (var i = 0; i < 60; i++)
                {
                    await run.ExecuteAsync($"INSERT INTO items SELECT g, 'tx {i}' FROM generate_series({i * 100 + 1}, {(i + 1) * 100}) g");
                    await Task.Delay(25);
                }
            });
            await Task.Delay(700);
            first.Signal("KILL");
            Assert.NotNull(await first.WaitForExitAsync(TimeSpan.FromSeconds(10)));
        }

        // PostgreSQL notices the dead walsender client shortly after; until then the slot is busy.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (await run.ScalarAsync<long>($"SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{run.Config.Postgres.SlotName}' AND active") > 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "the slot stayed active after its client was killed");
            await Task.Delay(50);
        }

        using var second = CliProcess.Start(["run", "--config", configPath]);
        await writer;
        var messages = await ConsumeAsync(kafka, [run.Topic("items")], 6000, quiet: TimeSpan.FromSeconds(2));
        var ids = messages.Select(m => (int)m.After!["id"]!).ToHashSet();
        Assert.Equal(6000, ids.Count);
        Assert.True(ids.SetEquals(Enumerable.Range(1, 6000)), "some change was lost across SIGKILL and restart");
        second.Signal("TERM");
        var code = await second.WaitForExitAsync(TimeSpan.FromSeconds(10));
        Assert.True(code == 0, $"expected exit 0 within 10 s of SIGTERM, got {code?.ToString() ?? "no exit"}. Output:\n{second.Output}");
    }

    private async Task<ReplicatorRun> CreateRunWithOwnRoleAsync(string setupSql)
    {
        var run = await ReplicatorRun.CreateAsync(postgres, kafka, setupSql);
        await run.ExecuteAsync($"""
            DO $$ BEGIN
              IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rk_user') THEN
                CREATE ROLE rk_user LOGIN REPLICATION PASSWORD '{SecretPassword}';
              END IF;
            END $$;
            GRANT SELECT ON ALL TABLES IN SCHEMA public TO rk_user
            """);
        return run;
    }
}
