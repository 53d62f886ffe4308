using PgReplicateKafka.Operations;
using PgReplicateKafka.Source.Snapshot;

namespace PgReplicateKafka.Tests.Integration.Operations;

/// <summary>snapshot through the real executable: the request reaches the replication stream; what the replicator would reject fails here.</summary>
[Collection(IntegrationCollection.Name)]
public class SnapshotCommandTests(PostgresFixture postgres, KafkaFixture kafka)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task The_request_is_written_into_the_wal_and_read_from_the_replication_stream()
    {
        await using var db = await SnapshotTestDatabase.CreateAsync(postgres, "CREATE TABLE items (id int PRIMARY KEY, n int)");
        await db.CreateSlotAsync();

        var (code, output) = await CliProcess.RunAsync(["snapshot", "--config", await ConfigFileAsync(db.Config.Database), "--table", "public.items", "--where", "n > 2"], Timeout);

        Assert.True(code == 0, $"exit {code}:\n{output}");
        Assert.Contains("Requested a snapshot of public.items (the rows where n > 2) at LSN", output);
        Assert.Contains("will backfill", output);
        var seen = await db.StreamAsync(s => s.OfType<SnapshotRequest>().Any(), TimeSpan.FromSeconds(30));
        Assert.Equal(new SnapshotRequest("public.items", "n > 2"), seen.OfType<SnapshotRequest>().Single());
    }

    [Fact]
    public async Task A_where_condition_with_a_typo_exits_2_naming_the_error_and_requests_nothing()
    {
        await using var db = await SnapshotTestDatabase.CreateAsync(postgres, "CREATE TABLE items (id int PRIMARY KEY, n int)");
        await db.CreateSlotAsync();
        var path = await ConfigFileAsync(db.Config.Database);

        var (code, output) = await CliProcess.RunAsync(["snapshot", "--config", path, "--table", "items", "--where", "nn > 2"], Timeout);
        var (sneaky, sneakyOutput) = await CliProcess.RunAsync(["snapshot", "--config", path, "--table", "items", "--where", "true); DELETE FROM public.items; SELECT (1"], Timeout);

        Assert.True(code == 2, $"exit {code}:\n{output}");
        Assert.Contains("--where \"nn > 2\" is not a valid condition on the table: column \"nn\" does not exist (SQLSTATE 42703)", output);
        Assert.True(sneaky == 2, $"exit {sneaky}:\n{sneakyOutput}");
        // Only the valid request of this marker reaches the stream: the rejected ones were never written.
        var marker = await SnapshotCommand.RunAsync(db.Config, "items", "n = 1", CancellationToken.None);
        var seen = await db.StreamAsync(s => s.OfType<SnapshotRequest>().Any(), TimeSpan.FromSeconds(30));
        Assert.Equal([marker.Request], seen.OfType<SnapshotRequest>());
    }

    [Fact]
    public async Task A_table_the_publication_does_not_publish_exits_2_and_one_without_a_key_exits_3()
    {
        var database = await postgres.CreateDatabaseAsync();
        await postgres.Cluster.ExecuteAsync(
            "CREATE TABLE items (id int PRIMARY KEY); CREATE TABLE other (id int PRIMARY KEY); CREATE TABLE bag (a int); CREATE PUBLICATION pub FOR TABLE items, bag",
            database);
        var path = await ConfigFileAsync(database);

        var (unpublished, output) = await CliProcess.RunAsync(["snapshot", "--config", path, "--table", "public.other"], Timeout);
        var (keyless, keylessOutput) = await CliProcess.RunAsync(["snapshot", "--config", path, "--table", "public.bag"], Timeout);

        Assert.True(unpublished == 2, $"exit {unpublished}:\n{output}");
        Assert.Contains("table public.other is not published by publication \"pub\" (it publishes public.bag, public.items)", output);
        Assert.Contains("ALTER PUBLICATION pub ADD TABLE public.other", output);
        Assert.True(keyless == 3, $"exit {keyless}:\n{keylessOutput}");
        Assert.Contains("snapshot refused: table public.bag has neither a primary key", keylessOutput);
    }

    [Fact]
    public async Task Without_the_slot_no_replicator_would_see_the_request_so_it_exits_3()
    {
        await using var db = await SnapshotTestDatabase.CreateAsync(postgres, "CREATE TABLE items (id int PRIMARY KEY)");

        var error = await Assert.ThrowsAsync<PostgresSetupException>(() => SnapshotCommand.RunAsync(db.Config, "items", null, CancellationToken.None));

        Assert.Equal(3, error.ExitCode);
        Assert.Contains($"replication slot \"{db.Config.SlotName}\" does not exist", error.Message);
    }

    private async Task<string> ConfigFileAsync(string database)
    {
        var config = ReplicatorRun.DefaultConfig(postgres.Cluster, database, kafka.BootstrapServers, kafka.NewTopicPrefix());
        var path = Path.Combine(Path.GetTempPath(), $"pgrk-{Guid.NewGuid():N}.toml");
        await File.WriteAllTextAsync(path, CliRuns.Toml(config, postgres.Cluster.Username, postgres.Cluster.Password));
        return path;
    }
}
