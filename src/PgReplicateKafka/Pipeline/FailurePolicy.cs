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

    /// <summary>A Kafka transaction was aborted (or the checkpoint could not be read): stream again from the last committed checkpoint.</summary>
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
    /// <param name="established">Streaming has worked before: until then only a busy slot is retried, so a wrong host fails fast.</param>
    public FailureDecision Decide(Exception failure, IEventProducer? producer, bool established)
    {
        // Rebuilding and streaming the same transaction again would time out again.
        if (producer?.Fatal is KafkaTransactionTimeoutException timedOut)
            return Exit(timedOut);
        if (producer is { Fenced: true })
        {
            // Rebuilding would only fence the other instance back: one of the two must go.
            return Exit(producer.Fatal ?? new KafkaFailureException("another producer with the same transactional.id fenced this instance"));
        }

        if (producer?.Fatal is not null && established)
            return new FailureDecision(FailureAction.RebuildProducer);
        if (failure is KafkaTransactionAbortedException or CheckpointUnavailableException)
            return new FailureDecision(FailureAction.Restream);
        if (IsSlotBusy(failure))
            return new FailureDecision(FailureAction.Standby);
        if (established && IsTransient(failure))
            return new FailureDecision(FailureAction.Reconnect);
        return Exit(ToFatal(failure));
    }

    /// <summary>The exception the process exits with, naming the side that failed.</summary>
    public ReplicatorException ToFatal(Exception failure) => failure switch
    {
        ReplicatorException known => known,
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
    /// Connection lost, server restarting or shutting down, walsender terminated: a reconnect will
    /// succeed once the server is back. Anything else (bad password, missing publication) will not.
    /// </summary>
    public static bool IsTransient(Exception error)
    {
        if (IsSlotBusy(error))
            return true;
        if (Find<PostgresException>(error) is { } pg)
        {
            // An explicit list, not Npgsql's IsTransient: that includes 55000, which is also an
            // invalidated slot (max_slot_wal_keep_size exceeded) and needs a human, not a retry.
            return pg.SqlState is PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CrashShutdown
                or PostgresErrorCodes.CannotConnectNow or PostgresErrorCodes.TooManyConnections
                || pg.SqlState.StartsWith("08", StringComparison.Ordinal);
        }

        // Any other Npgsql error is about the connection itself (lost, reset, or ended by the server
        // in a way the protocol did not expect, as a walsender being shut down does).
        return Find<NpgsqlException>(error) is not null || Find<ReplicationEndedException>(error) is not null;
    }

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
