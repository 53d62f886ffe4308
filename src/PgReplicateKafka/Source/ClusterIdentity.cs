namespace PgReplicateKafka.Source;

/// <summary>
/// Which server a replication connection reached (IDENTIFY_SYSTEM): the cluster's system identifier
/// tells a rebuilt or restored cluster from the original, the timeline a promoted standby from its primary.
/// </summary>
public sealed record ClusterIdentity(string SystemId, uint Timeline, ulong WalPosition);
