namespace PgReplicateKafka.Embedded;

/// <summary>Settings for <see cref="TempPostgresCluster.StartAsync"/>.</summary>
public sealed class TempPostgresOptions
{
    /// <summary>Password of the superuser <c>postgres</c>, required over TCP (scram-sha-256).</summary>
    public string Password { get; init; } = "postgres";

    /// <summary>Server <c>timezone</c>; tests pick a non-UTC zone to prove nothing depends on it.</summary>
    public string TimeZone { get; init; } = "UTC";

    /// <summary>Further postgresql.conf settings; they win over the defaults.</summary>
    public IReadOnlyDictionary<string, string> ExtraSettings { get; init; } = new Dictionary<string, string>();

    /// <summary>Directory holding initdb and pg_ctl; null asks <c>pg_config --bindir</c>.</summary>
    public string? BinDir { get; init; }
}
