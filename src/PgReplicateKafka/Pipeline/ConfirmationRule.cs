namespace PgReplicateKafka.Pipeline;

/// <summary>
/// Which WAL position may be confirmed to PostgreSQL: never one past an undelivered change, never
/// lower than one already confirmed.
/// </summary>
public static class ConfirmationRule
{
    /// <param name="delivered">End LSN of the last transaction delivered with all before it.</param>
    /// <param name="deliveriesIdle">No transaction waits for Kafka.</param>
    /// <param name="streamIdle">The stream is between transactions and offered <paramref name="idleLsn"/>.</param>
    /// <param name="idleLsn">The server's last reported position (or where forwarding stopped).</param>
    /// <param name="forwardedCommits">Commits the stream had handed over when it offered <paramref name="idleLsn"/>.</param>
    /// <param name="commitsSeen">Commits the pump has registered.</param>
    /// <param name="lastConfirmed">What was confirmed already.</param>
    /// <remarks>
    /// The idle position lets a slot advance while the published tables are quiet (other tables'
    /// WAL would pile up otherwise). It is safe only when every commit before it was handed over
    /// and delivered: the pump has seen them all and nothing waits for Kafka.
    /// </remarks>
    public static ulong Next(ulong delivered, bool deliveriesIdle, bool streamIdle, ulong idleLsn, long forwardedCommits, long commitsSeen, ulong lastConfirmed)
    {
        var target = delivered;
        if (streamIdle && deliveriesIdle && commitsSeen == forwardedCommits)
            target = Math.Max(target, idleLsn);
        return Math.Max(target, lastConfirmed);
    }
}
