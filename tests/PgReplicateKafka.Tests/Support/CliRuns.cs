using PgReplicateKafka.Configuration;
using static PgReplicateKafka.Tests.Support.ChangeMessage;

namespace PgReplicateKafka.Tests.Support;

/// <summary>Running the real executable against a test database: its TOML file and its start.</summary>
public static class CliRuns
{
    /// <param name="snapshot">The [snapshot] section's lines; streaming tests run without a snapshot.</param>
    public static string Toml(ReplicatorConfig c, string username, string password, string replication = "", string snapshot = "mode = \"never\"") => $"""
        [postgres]
        host = "{c.Postgres.Host}"
        port = {c.Postgres.Port}
        database = "{c.Postgres.Database}"
        username = "{username}"
        password = "{password}"
        publication = "{c.Postgres.Publication}"
        slot_name = "{c.Postgres.SlotName}"

        [kafka]
        brokers = [{string.Join(", ", c.Kafka.Brokers.SelectMany(b => b.Split(',')).Select(b => $"\"{b}\""))}]
        topic_prefix = "{c.Kafka.TopicPrefix}"

        [replication]
        keepalive_interval_secs = 1
        {(replication.Contains("retry_initial_ms") ? "" : "retry_initial_ms = 100\nretry_max_ms = 1000")}
        {(replication.Contains("checkpoint_interval_secs") ? "" : "checkpoint_interval_secs = 1")}
        {replication}

        [snapshot]
        {snapshot}
        """;

    public static async Task<string> WriteConfigAsync(ReplicatorRun run, string username, string password)
    {
        var path = Path.Combine(Path.GetTempPath(), $"pgrk-{Guid.NewGuid():N}.toml");
        await File.WriteAllTextAsync(path, Toml(run.Config, username, password));
        return path;
    }

    public static async Task WaitForSlotActiveAsync(ReplicatorRun run, CliProcess process)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (await run.ScalarAsync<long>($"SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{run.Config.Postgres.SlotName}' AND active") == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, $"the replicator did not start streaming within 30 s. Output:\n{process.Output}");
            Assert.False(process.HasExited, $"the replicator exited. Output:\n{process.Output}");
            await Task.Delay(50);
        }
    }
}
