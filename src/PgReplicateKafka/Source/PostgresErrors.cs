using System.Net.Sockets;
using Npgsql;
using PgReplicateKafka.Configuration;

namespace PgReplicateKafka.Source;

/// <summary>Turns connection failures into messages that say what is wrong and what to do (exit code 3).</summary>
public static class PostgresErrors
{
    public static PostgresSetupException Connect(Exception error, PostgresConfig config)
    {
        var target = PostgresConnections.Describe(config);
        var hint = error switch
        {
            PostgresException { SqlState: PostgresErrorCodes.InvalidPassword } =>
                "password authentication failed: check [postgres] password, password_file or PGRK_POSTGRES_PASSWORD",
            PostgresException { SqlState: PostgresErrorCodes.InvalidCatalogName } =>
                $"database \"{config.Database}\" does not exist: check [postgres] database",
            PostgresException { SqlState: PostgresErrorCodes.InvalidAuthorizationSpecification } pe =>
                $"{pe.MessageText}: add a pg_hba.conf entry for this user, database and host (logical replication connections match by database name: \"host {config.Database} {config.Username} <address> scram-sha-256\")",
            PostgresException { SqlState: PostgresErrorCodes.InsufficientPrivilege } pe =>
                $"{pe.MessageText}: the role needs the REPLICATION attribute (ALTER ROLE {config.Username} REPLICATION)",
            PostgresException pe => $"{pe.MessageText} (SQLSTATE {pe.SqlState})",
            NpgsqlException { InnerException: SocketException se } =>
                $"{se.Message}: check [postgres] host and port, and that PostgreSQL is running and reachable",
            NpgsqlException { InnerException: TimeoutException } or TimeoutException =>
                $"no answer within {config.ConnectTimeoutSecs} s: check [postgres] host and port, firewalls, or raise connect_timeout_secs",
            _ => error.Message,
        };
        return new PostgresSetupException($"PostgreSQL at {target}: {hint}", error);
    }
}
