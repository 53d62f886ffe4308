using Npgsql.Replication;
using PgReplicateKafka.Configuration;

namespace PgReplicateKafka.Source;

/// <summary>
/// Which server a replication connection reached (IDENTIFY_SYSTEM): the cluster's system identifier
/// tells a rebuilt or restored cluster from the original, the timeline a promoted standby from its primary.
/// </summary>
public sealed record ClusterIdentity(string SystemId, uint Timeline, ulong WalPosition)
{
    /// <summary>Identifies the cluster on a short replication connection (exactly-once names its producer after it).</summary>
    public static async Task<ClusterIdentity> IdentifyAsync(PostgresConfig config, CancellationToken ct)
    {
        await using var connection = new LogicalReplicationConnection(PostgresConnections.ReplicationConnectionString(config));
        await connection.Open(ct);
        var system = await connection.IdentifySystem(ct);
        return new ClusterIdentity(system.SystemId, system.Timeline, (ulong)system.XLogPos);
    }
}
