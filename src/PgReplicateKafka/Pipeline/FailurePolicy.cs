using Confluent.Kafka;
using Npgsql;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Sink;
using PgReplicateKafka.Source;

namespace PgReplicateKafka.Pipeline;

/// <summary>What the replicator does after a session failed.</summary>
public enum FailureAction
{
    /// <summary>PostgreSQL was lost: reconnect with backoff and resume from the last confirmed position.</summary>
    Reconnect,

    /// <summary>Another instance streams from the slot: wait as standby and take over when it is free.</summary>
    Standby,

    /// <summary>The producer cannot continue (e.g. its sequence broke): build a new one and resume.</summary>
    RebuildProducer,

    /// <summary>A Kafka transaction was aborted, or Kafka did not answer in time (the checkpoint read, InitTransactions): stream again from the last committed checkpoint.</summary>
    Restream,

    /// <summary>Nothing a retry can fix: exit with <see cref="FailureDecision.Fatal"/>'s code.</summary>
    Exit,
}

public readonly record struct FailureDecision(FailureAction Action, ReplicatorException? Fatal = null);

/// <summary>The one place that decides retry versus exit, and the exit code, for every failure.</summary>
public sealed class FailurePolicy(ReplicatorConfig config)
{
    /// <param name="failure">What ended the session.</param>
    /// <param name="producer">The producer in use, for its fatal state.</param>
    /// <param name="progress">
    /// How far this process got: until PostgreSQL accepted the configuration once (the checks passed,
    /// perhaps with the slot busy), every failure exits, so a wrong host or port fails fast at start.
    /// From then on every transient failure is retried, in whatever state it happens.
    /// </param>
    public FailureDecision Decide(Exception failure, IEventProducer? producer, StreamProgress progress)
    {
        // Rebuilding and streaming the same transaction again would time out again.
        if (producer?.Fatal is KafkaTransactionTimeoutException timedOut)
            return Exit(timedOut);
        // Fenced after the session had lost PostgreSQL (while delivering what it held): the slot was free, and
        // the instance that took it fenced us, as it must. A new producer is built once the slot is ours again.
        if (producer is { Fenced: true } && !(progress.Verified && IsTransient(failure)))
        {
            // Rebuilding would only fence the other instance back: one of the two must go.
            return Exit(producer.Fatal ?? new KafkaFailureException("another producer with the same transactional.id fenced this instance"));
        }

        if (producer?.Fatal is not null && progress.Established)
            return new FailureDecision(FailureAction.RebuildProducer);
        // A Kafka call that timed out (brokers away) is waited out like a PostgreSQL outage once streaming worked.
        if (failure is KafkaTransactionAbortedException or CheckpointUnavailableException
            || (progress.Established && Find<KafkaRetriableException>(failure) is not null))
            return new FailureDecision(FailureAction.Restream);
        if (IsSlotBusy(failure))
            return new FailureDecision(FailureAction.Standby);
        if (progress.Verified && IsTransient(failure))
            return new FailureDecision(FailureAction.Reconnect);
        return Exit(ToFatal(failure));
    }

    /// <summary>The exception the process exits with, naming the side that failed.</summary>
    public ReplicatorException ToFatal(Exception failure) => failure switch
    {
        ReplicatorException known => known,
        SlotBusyException or ServerBusyException => new PostgresSetupException(failure.Message, failure),
        NpgsqlException or TimeoutException or ReplicationEndedException =>
            new PostgresSetupException($"PostgreSQL at {PostgresConnections.Describe(config.Postgres)}: {Describe(failure)}", failure),
        KafkaException or KafkaTransactionAbortedException =>
            new KafkaFailureException($"Kafka at {string.Join(',', config.Kafka.Brokers)}: {Describe(failure)}", failure),
        _ => new ReplicatorException(ExitCodes.RuntimeFailure, $"replication failed: {failure.Message}", failure),
    };

    public static string Describe(Exception e) =>
        e is PostgresSetupException || e.InnerException is null ? e.Message : $"{e.Message}: {e.InnerException.Message}";

    /// <summary>The slot is in use by another walsender: another instance is active, we are the standby.</summary>
    public static bool IsSlotBusy(Exception error) =>
        Find<PostgresException>(error) is { SqlState: PostgresErrorCodes.ObjectInUse } || Find<SlotBusyException>(error) is not null;

    /// <summary>
    /// A retry will succeed once PostgreSQL is back or has room: the connection was lost, refused or
    /// timed out, the server is restarting or shutting down, the walsender was terminated, or all
    /// connections or WAL senders are in use. Only <see cref="IsFatalSqlState"/> is not retried,
    /// besides the failures that carry no PostgreSQL error at all (failed checks, a dropped slot).
    /// </summary>
    public static bool IsTransient(Exception error)
    {
        if (IsSlotBusy(error) || Find<ServerBusyException>(error) is not null)
            return true;
        if (Find<PostgresException>(error) is { } pg)
            return !IsFatalSqlState(pg.SqlState);

        // Any other Npgsql error is about the connection itself (lost, reset, or ended by the server
        // in a way the protocol did not expect, as a walsender being shut down does).
        return Find<NpgsqlException>(error) is not null || Find<ReplicationEndedException>(error) is not null
            || Find<IOException>(error) is not null || Find<TimeoutException>(error) is not null;
    }

    /// <summary>
    /// The PostgreSQL errors a retry cannot fix (docs/operations.md lists them): authentication
    /// (class 28), a missing database (3D), missing privileges or objects such as the publication
    /// (42), unsupported features (0A), bad data (22), missing WAL files (58), internal errors (XX),
    /// and 55000: an invalidated slot or wal_level not logical. Not Npgsql's IsTransient, which
    /// counts 55000 as transient.
    /// </summary>
    public static bool IsFatalSqlState(string sqlState) =>
        sqlState == PostgresErrorCodes.ObjectNotInPrerequisiteState
        || sqlState[..2] is "28" or "3D" or "42" or "0A" or "22" or "58" or "XX";

    private static FailureDecision Exit(Exception fatal) => new(FailureAction.Exit, fatal as ReplicatorException ?? new ReplicatorException(ExitCodes.RuntimeFailure, fatal.Message, fatal));

    private static T? Find<T>(Exception? error)
        where T : Exception
    {
        for (; error is not null; error = error.InnerException)
        {
            if (error is T match)
                return match;
        }

        return null;
    }
}
