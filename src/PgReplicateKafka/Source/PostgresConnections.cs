using Npgsql;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Events.Values;

namespace PgReplicateKafka.Source;

/// <summary>Builds the connection strings for the catalog (SQL) connection and the replication connection.</summary>
public static class PostgresConnections
{
    public const string ApplicationName = "pg-replicate-kafka";

    public static string CatalogConnectionString(PostgresConfig config) => Builder(config).ConnectionString;

    /// <summary>
    /// The replication connection pins the session settings that the walsender's text output of
    /// values depends on (time zone, date and interval style, float digits), so events never depend
    /// on server defaults.
    /// </summary>
    public static string ReplicationConnectionString(PostgresConfig config)
    {
        var builder = Builder(config);
        builder.Options = PgSessionSettings.Options;
        return builder.ConnectionString;
    }

    /// <summary>Opens a plain SQL connection; a failure becomes a <see cref="PostgresSetupException"/> that says what to do.</summary>
    public static async Task<NpgsqlConnection> OpenCatalogAsync(PostgresConfig config, CancellationToken ct)
    {
        var connection = new NpgsqlConnection(CatalogConnectionString(config));
        try
        {
            await connection.OpenAsync(ct);
            return connection;
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException)
        {
            await connection.DisposeAsync();
            throw PostgresErrors.Connect(e, config);
        }
    }

    /// <summary>"host:port/database as user", for messages: never includes the password.</summary>
    public static string Describe(PostgresConfig config) =>
        $"{config.Host}:{config.Port}/{config.Database} as user \"{config.Username}\"";

    private static NpgsqlConnectionStringBuilder Builder(PostgresConfig config)
    {
        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = config.Host,
            Port = config.Port,
            Database = config.Database,
            Username = config.Username,
            SslMode = config.SslMode switch
            {
                PgSslMode.Disable => SslMode.Disable,
                PgSslMode.Allow => SslMode.Allow,
                PgSslMode.Require => SslMode.Require,
                PgSslMode.VerifyCa => SslMode.VerifyCA,
                PgSslMode.VerifyFull => SslMode.VerifyFull,
                _ => SslMode.Prefer,
            },
            Timeout = config.ConnectTimeoutSecs,
            ApplicationName = ApplicationName,
        };
        if (config.Password is not null)
            builder.Password = config.Password;
        return builder;
    }
}
