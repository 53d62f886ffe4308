
using System.Diagnostics;
using System.Text.RegularExpressions;

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

    [Theory]
    [InlineData("at_least_once")]
    [InlineData("exactly_once")]
    public async Task An_active_standby_pair_survives_walsender_kills_and_postgres_crashes_then_the_survivor_takes_over(string delivery)
    {
        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka, "CREATE TABLE items (id int PRIMARY KEY, v text)");
        var configPath = await WriteConfigAsync(run, $"delivery = \"{delivery}\"");
        using var first = CliProcess.Start(["run", "--config", configPath]);
        await CliRuns.WaitForSlotActiveAsync(run, first);
        using var second = CliProcess.Start(["run", "--config", configPath]);
        await WaitForOutputAsync(second, "waiting as standby");

        using var stopWriting = new CancellationTokenSource();
        var writer = new RowWriter(run.Cluster, run.Database, batches: int.MaxValue, rowsPerBatch: 10, TimeSpan.FromMilliseconds(20));
        var writing = writer.RunAsync(stopWriting.Token);
        var seed = Environment.TickCount;
        var random = new Random(seed);
        var walsender = await ActiveWalsenderAsync(run);
        for (var disruption = 0; disruption < 5; disruption++)
        {
            await Task.Delay(random.Next(200, 1500));
            var crash = disruption % 2 == 1;
            if (crash)
            {
                // Down for longer than the standby's poll interval, so the standby meets the outage too.
                await run.Cluster.StopAsync("immediate");
                await Task.Delay(1500);
                await run.Cluster.StartAgainAsync();
            }
            else
            {
                await run.ExecuteAsync($"SELECT pg_terminate_backend({walsender})");
            }

            walsender = await WaitForNewWalsenderAsync(run, walsender, first, second, $"disruption {disruption + 1} (seed {seed})");
        }

        var active = await ProcessOfWalsenderAsync(run, walsender) == first.Id ? first : second;
        var survivor = active == first ? second : first;
        active.Signal("KILL");
        Assert.NotNull(await active.WaitForExitAsync(TimeSpan.FromSeconds(10)));
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (await run.ScalarAsync<int>($"SELECT coalesce(active_pid, 0) FROM pg_replication_slots WHERE slot_name = '{run.Config.Postgres.SlotName}'") is var pid && (pid == 0 || pid == walsender))
        {
            Assert.True(DateTime.UtcNow < deadline && !survivor.HasExited, $"the survivor did not take over the slot. Output:\n{survivor.Output}");
            await Task.Delay(50);
        }

        await writer.WaitForBatchesAsync(writer.BatchesDone + 20);
        await stopWriting.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => writing);

        var counts = await run.AssertEveryRowDeliveredAsync(kafka.BootstrapServers);
        Assert.True(counts.Count > 500, $"only {counts.Count} rows were written");
        Assert.False(survivor.HasExited, $"the survivor exited. Output:\n{survivor.Output}");
        survivor.Signal("TERM");
        Assert.Equal(0, await survivor.WaitForExitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task An_exactly_once_instance_that_gets_the_slot_back_continues_from_what_the_other_one_committed()
    {
        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka, "CREATE TABLE items (id int PRIMARY KEY, v text)");
        // Confirmed to PostgreSQL at a session's first delivery, then not for 10 minutes: what the second
        // instance commits to Kafka after that is known only from the checkpoint.
        const string replication = "delivery = \"exactly_once\"\ncheckpoint_interval_secs = 600\n";
        var first = await WriteConfigAsync(run, replication + "retry_initial_ms = 3000\nretry_max_ms = 3000");
        var second = await WriteConfigAsync(run, replication);
        using var a = CliProcess.Start(["run", "--config", first]);
        await CliRuns.WaitForSlotActiveAsync(run, a);
        await InsertAsync(run, 1, 100);
        await CountsAsync(run, 100);

        // The first instance loses its walsender and reconnects after 3 s; the second, polling every 100 ms, takes the slot.
        using var b = CliProcess.Start(["run", "--config", second]);
        await WaitForOutputAsync(b, "waiting as standby");
        var walsender = await ActiveWalsenderAsync(run);
        await run.ExecuteAsync($"SELECT pg_terminate_backend({walsender})");
        walsender = await WaitForNewWalsenderAsync(run, walsender, a, b, "the walsender kill");
        Assert.Equal(b.Id, await ProcessOfWalsenderAsync(run, walsender));
        await WaitForOutputAsync(a, "waiting as standby");
        for (var id = 101; id <= 600; id += 100)
        {
            await InsertAsync(run, id, id + 99);
            await Task.Delay(200);
        }

        await CountsAsync(run, 600);
        b.Signal("KILL");
        Assert.NotNull(await b.WaitForExitAsync(TimeSpan.FromSeconds(10)));

        // The first instance takes the slot back. Its producer was fenced by the second's (a real broker
        // refuses it from then on), and only Kafka knows what the second committed past the slot.
        await WaitForNewWalsenderAsync(run, walsender, a, a, "the second instance's SIGKILL");
        await InsertAsync(run, 601, 700);
        var counts = await CountsAsync(run, 700);
        a.Signal("TERM");
        Assert.Equal(0, await a.WaitForExitAsync(TimeSpan.FromSeconds(20)));
        var repeated = counts.Where(c => c.Value > 1).Select(c => c.Key).ToList();
        Assert.True(repeated.Count == 0, $"{repeated.Count} rows arrived more than once, e.g. {string.Join(", ", repeated.Take(10))}. Output:\n{a.Output}");
    }

    private static async Task<string> WriteConfigAsync(ReplicatorRun run, string replication)
    {
        var path = Path.Combine(Path.GetTempPath(), $"pgrk-{Guid.NewGuid():N}.toml");
        await File.WriteAllTextAsync(path, CliRuns.Toml(run.Config, run.Cluster.Username, run.Cluster.Password, replication));
        return path;
    }

    private static Task InsertAsync(ReplicatorRun run, int first, int last) =>
        run.ExecuteAsync($"INSERT INTO items SELECT g, 'v' FROM generate_series({first}, {last}) g");

    /// <summary>How often each id arrived (read_committed), once every one of 1..<paramref name="rows"/> did.</summary>
    private async Task<Dictionary<int, int>> CountsAsync(ReplicatorRun run, int rows)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var consumed = await KafkaTestConsumer.ConsumeAsync(kafka.BootstrapServers, [run.Topic("items")], rows, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(1));
            var counts = consumed.GroupBy(m => (int)System.Text.Json.Nodes.JsonNode.Parse(m.Value!)!["after"]!["id"]!).ToDictionary(g => g.Key, g => g.Count());
            if (Enumerable.Range(1, rows).All(counts.ContainsKey))
                return counts;
            Assert.True(DateTime.UtcNow < deadline, $"{rows - counts.Count} of {rows} rows never reached Kafka");
        }
    }

    private static async Task WaitForOutputAsync(CliProcess process, string text)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!process.Output.Contains(text))
        {
            Assert.True(DateTime.UtcNow < deadline && !process.HasExited, $"expected \"{text}\". Output:\n{process.Output}");
            await Task.Delay(50);
        }
    }

    private static async Task<int> ActiveWalsenderAsync(ReplicatorRun run) =>
        await run.ScalarAsync<int>($"SELECT coalesce(active_pid, 0) FROM pg_replication_slots WHERE slot_name = '{run.Config.Postgres.SlotName}'");

    /// <summary>Waits until a walsender other than <paramref name="previous"/> streams from the slot, with both instances alive throughout.</summary>
    private static async Task<int> WaitForNewWalsenderAsync(ReplicatorRun run, int previous, CliProcess first, CliProcess second, string after)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            Assert.False(first.HasExited, $"the first instance exited after {after}. Output:\n{first.Output}");
            Assert.False(second.HasExited, $"the second instance exited after {after}. Output:\n{second.Output}");
            Assert.True(DateTime.UtcNow < deadline, $"nobody streamed within 30 s after {after}.\nFirst:\n{first.Output}\nSecond:\n{second.Output}");
            try
            {
                if (await ActiveWalsenderAsync(run) is var pid && pid != 0 && pid != previous)
                    return pid;
            }
            catch (Npgsql.NpgsqlException)
            {
                // Still starting up after the crash.
            }

            await Task.Delay(50);
        }
    }

    /// <summary>The replicator process whose socket is the walsender's client end.</summary>
    private static async Task<int> ProcessOfWalsenderAsync(ReplicatorRun run, int walsender)
    {
        var port = await run.ScalarAsync<int>($"SELECT client_port FROM pg_stat_activity WHERE pid = {walsender}");
        using var ss = Process.Start(new ProcessStartInfo("ss", ["-tnpH", "state", "established", "sport", "=", $":{port}"]) { RedirectStandardOutput = true })!;
        var output = await ss.StandardOutput.ReadToEndAsync();
        await ss.WaitForExitAsync();
        var match = Regex.Match(output, @"pid=(\d+)");
        Assert.True(match.Success, $"no process owns port {port}: {output}");
        return int.Parse(match.Groups[1].Value);
    }
}
