using PgReplicateKafka.Source;

namespace PgReplicateKafka.Pipeline;

/// <summary>Where a new session starts, before the exactly-once checkpoint has its say.</summary>
public static class ResumeRule
{
    /// <summary>
    /// On the same server, after what this process already delivered even when the slot lags behind
    /// it (PostgreSQL crashed before persisting our last confirmation: it skips those commits). On a
    /// different server (another system identifier or timeline: a failover or a restored cluster)
    /// the in-process position belongs to the old server's WAL, so the slot's own position decides.
    /// </summary>
    public static ulong Start(ulong slotLsn, ulong lastConfirmedLsn, ulong deliveredLsn, ClusterIdentity? previous, ClusterIdentity current) =>
        ServerChanged(previous, current) ? slotLsn : Math.Max(slotLsn, Math.Max(lastConfirmedLsn, deliveredLsn));

    /// <summary>True when an earlier session streamed from a server other than <paramref name="current"/>.</summary>
    public static bool ServerChanged(ClusterIdentity? previous, ClusterIdentity current) =>
        previous is not null && (previous.SystemId != current.SystemId || previous.Timeline != current.Timeline);
}
