using Microsoft.Extensions.Logging;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Metrics;
using PgReplicateKafka.Pipeline.Delivery;
using PgReplicateKafka.Sink;
using PgReplicateKafka.Source;

namespace PgReplicateKafka.Pipeline;

/// <summary>What outlives one replication session: built once per producer by the replicator.</summary>
/// <param name="Budget">
/// The producer's share of the in-flight budget (its unacknowledged messages). A session takes a share
/// of its own for the changes it received, and passes its components a context with that one.
/// </param>
public sealed record SessionContext(
    ReplicatorConfig Config,
    ReplicatorMetrics Metrics,
    ILogger Logger,
    InFlightBudget Budget,
    IEventProducer Producer,
    DeliveryTracker Tracker,
    IDeliveryMode Delivery,
    CheckpointStore? Checkpoints,
    TopicRouter Topics)
{
    /// <summary>The producer is no longer used: disposing it drops its unacknowledged messages, and their bytes with them.</summary>
    public void Close()
    {
        Producer.Dispose();
        Budget.End();
    }
}

/// <summary>Where streaming stands across sessions and producers.</summary>
public sealed class StreamProgress
{
    /// <summary>The last LSN confirmed to PostgreSQL (0 before the first confirmation).</summary>
    public ulong LastConfirmedLsn { get; set; }

    /// <summary>
    /// PostgreSQL accepted the configuration once (the checks passed, perhaps with the slot or the
    /// WAL senders busy): from then on a transient failure is waited out, not a reason to exit.
    /// </summary>
    public bool Verified { get; set; }

    /// <summary>Streaming has worked once: the slot exists and belongs to this run.</summary>
    public bool Established { get; set; }

    /// <summary>The server the last session streamed from: a different one (failover) does not share our positions.</summary>
    public ClusterIdentity? LastCluster { get; set; }

    /// <summary>A session failed since streaming last worked: the next one reports when it streams again.</summary>
    public bool Recovering { get; set; }

    /// <summary>Exactly-once: Kafka transactions aborted since the last commit, whichever producer ran them.</summary>
    public int KafkaAbortsInARow { get; set; }
}
