using PgReplicateKafka.Configuration;

namespace PgReplicateKafka.Tests.Unit.Configuration;

internal static class ConfigurationTestSupport
{
    public const string SourceName = "test.toml";

    /// <summary>The smallest valid file: only the required keys.</summary>
    public const string Minimal = """
        [postgres]
        database = "mydb"
        username = "replicator"
        publication = "my_publication"

        [kafka]
        brokers = ["localhost:9092"]
        """;

    /// <summary><see cref="Minimal"/> with extra lines in its [postgres] section.</summary>
    public static string WithPostgres(string lines) => Minimal.Replace("[kafka]", lines + "\n\n[kafka]");

    /// <summary>Parses with an explicit (by default empty) environment so the test process's variables never leak in.</summary>
    public static ReplicatorConfig Parse(string toml, Dictionary<string, string>? environment = null) =>
        ConfigLoader.Parse(toml, SourceName, environment ?? []);

    public static ConfigException Fails(string toml, Dictionary<string, string>? environment = null) =>
        Assert.Throws<ConfigException>(() => Parse(toml, environment));

    public static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "PgReplicateKafka.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No PgReplicateKafka.slnx above {AppContext.BaseDirectory}.");
    }
}
