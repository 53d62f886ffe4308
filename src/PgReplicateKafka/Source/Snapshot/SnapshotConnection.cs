using Npgsql;
using PgReplicateKafka.Configuration;

namespace PgReplicateKafka.Source.Snapshot;

/// <summary>Plain SQL connections for snapshot reads and watermarks.</summary>
public static class SnapshotConnection
{
    /// <summary>
    /// Opens a connection with the session settings the replication connection pins (see
    /// <see cref="PgSessionSettings"/>): chunk rows must print exactly as pgoutput
    /// prints the same values, and keys read back must parse under the same settings.
    /// </summary>
    public static async Task<NpgsqlConnection> OpenAsync(PostgresConfig config, CancellationToken ct)
    {
        var connection = new NpgsqlConnection(PostgresConnections.ReplicationConnectionString(config));
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
}
