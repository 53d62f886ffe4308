using Npgsql;

namespace PgReplicateKafka.Source;

/// <summary>Which PostgreSQL failures are worth a reconnect, and which need a human.</summary>
public static class PostgresFailures
{
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

/// <summary>The server ended the replication stream without an error (e.g. the walsender exited).</summary>
public sealed class ReplicationEndedException() : Exception("the replication stream from PostgreSQL ended unexpectedly");

/// <summary>The slot is active for another walsender (seen before START_REPLICATION would say so).</summary>
public sealed class SlotBusyException(string message) : Exception(message);
