namespace PgReplicateKafka.Tests.Integration.Routing;

/// <summary>Rules that name what the catalog does not have, and topics that cannot be, stop check and run with exit 2.</summary>
[Collection(IntegrationCollection.Name)]
public class TableRulesStartupTests(PostgresFixture postgres, KafkaFixture kafka)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private async Task<string> ConfigAsync(string database, string rules)
    {
        var path = Path.Combine(Path.GetTempPath(), $"pgrk-{Guid.NewGuid():N}.toml");
        await File.WriteAllTextAsync(path, $"""
            [postgres]
            host = "{postgres.Cluster.Host}"
            port = {postgres.Cluster.Port}
            database = "{database}"
            username = "{postgres.Cluster.Username}"
            password = "{postgres.Cluster.Password}"
            publication = "pub"
            slot_name = "rules_{database}"

            [kafka]
            brokers = ["{kafka.BootstrapServers.Split(',')[0]}"]
            connect_timeout_secs = 2

            {rules}
            """);
        return path;
    }

    private async Task<string> DatabaseAsync()
    {
        var database = await postgres.CreateDatabaseAsync();
        await postgres.Cluster.ExecuteAsync(
            "CREATE TABLE users (id int PRIMARY KEY, email text); CREATE TABLE users_archive (id int PRIMARY KEY); CREATE PUBLICATION pub FOR ALL TABLES", database);
        return database;
    }

    [Fact]
    public async Task Check_exits_2_naming_a_missing_table_and_a_missing_column()
    {
        var database = await DatabaseAsync();
        var config = await ConfigAsync(database, """
            [[tables]]
            match = "public.userz"
            topic = "x"

            [[tables]]
            match = "public.users*"
            exclude_columns = ["emial"]
            """);

        var (code, output) = await CliProcess.RunAsync(["check", "--config", config], Timeout);

        Assert.True(code == 2, $"exit {code}:\n{output}");
        Assert.Contains("FAIL configuration table rules", output);
        Assert.Contains("names table public.userz", output);
        Assert.Contains("names column \"emial\" in exclude_columns, but table public.users has no such published column", output);
        Assert.Contains("table public.users_archive has no such", output);
    }

    [Fact]
    public async Task Run_exits_2_before_streaming_naming_the_missing_column()
    {
        var database = await DatabaseAsync();
        var config = await ConfigAsync(database, """
            [[tables]]
            match = "public.users"
            key_columns = ["nope"]
            """);

        var (code, output) = await CliProcess.RunAsync(["run", "--config", config], Timeout);

        Assert.True(code == 2, $"exit {code}:\n{output}");
        Assert.Contains("names column \"nope\" in key_columns", output);
        Assert.Equal(0L, await postgres.Cluster.ScalarAsync<long>($"SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'rules_{database}'"));
    }

    [Fact]
    public async Task Check_exits_2_when_two_tables_would_share_a_topic_and_passes_when_a_literal_topic_joins_them()
    {
        var database = await DatabaseAsync();
        var clash = await ConfigAsync(database, """
            [[tables]]
            match = "public.users*"
            topic = "{prefix}.all_users"
            """);
        var (code, output) = await CliProcess.RunAsync(["check", "--config", clash], Timeout);
        Assert.True(code == 2, $"exit {code}:\n{output}");
        Assert.Contains("tables public.users and public.users_archive would both write to topic cdc.all_users", output);

        var onPurpose = await ConfigAsync(database, """
            [[tables]]
            match = "public.users*"
            topic = "all_users"
            """);
        (code, output) = await CliProcess.RunAsync(["check", "--config", onPurpose], Timeout);
        Assert.True(code == 0, $"exit {code}:\n{output}");
        Assert.Contains("ok   configuration topics: 2 table(s) to 1 topic(s)", output);
    }
}
