using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Npgsql;
using PgReplicateKafka.Events;
using PgReplicateKafka.Metrics;
using PgReplicateKafka.Source;

namespace PgReplicateKafka.Pipeline;

/// <summary>
/// Ends a session. Graceful stop (no failure): stop reading at a transaction boundary, deliver what
/// is in flight (bounded by shutdown_timeout_secs), confirm it and wait until PostgreSQL shows it.
/// After a failure: deliver what was handed over (bounded) so a reconnect can skip it.
/// </summary>
internal sealed class SessionShutdown(
    SessionContext context, StreamProgress progress, ReplicationStream stream, EventPump pump, Task streamTask, Task pumpTask,
    CancellationTokenSource readCts, CancellationTokenSource pumpCts)
{
    private readonly ILogger _logger = context.Logger;
    private readonly Stopwatch _deadline = new();

    private TimeSpan Remaining
    {
        get
        {
            var left = context.Config.Replication.ShutdownTimeout - _deadline.Elapsed;
            return left > TimeSpan.Zero ? left : TimeSpan.Zero;
        }
    }

    /// <summary>Returns the failure that ended the session, if any, including one found while shutting down.</summary>
    public async Task<Exception?> RunAsync(Exception? failure)
    {
        context.Metrics.SetState(ReplicatorState.Stopping);
        _deadline.Start();
        if (failure is null)
            _logger.LogInformation("Stopping: delivering events in flight");
        else
            readCts.Cancel(); // the session is over: no point finishing the transaction being read

        await StopForwardingAsync();
        failure = await DrainAsync(failure);

        if (!streamTask.IsCompleted && failure is null)
        {
            // Bounded so a stop stays within shutdown_timeout_secs (plus a second) even when PostgreSQL is slow.
            await ConfirmFinalPositionAsync(Remaining > TimeSpan.FromSeconds(1) ? Remaining : TimeSpan.FromSeconds(1));
        }

        failure = await EndStreamAsync(failure);
        await EndPumpAsync();
        return failure;
    }

    private async Task StopForwardingAsync()
    {
        stream.RequestStop();
        if (!await Completes(stream.ForwardingDone, Remaining))
        {
            // Drop the rest of the transaction, but keep the connection: what was delivered before
            // it must still be confirmed, or a restart would repeat it too.
            _logger.LogWarning("A transaction was still arriving at the shutdown deadline; it will be streamed again after restart");
            stream.StopNow();
        }
    }

    /// <summary>Lets the pump finish what was handed over and Kafka acknowledge it, within the bound.</summary>
    private async Task<Exception?> DrainAsync(Exception? failure)
    {
        var producer = context.Producer;
        if (producer.Fatal is null && !await Completes(pumpTask, Remaining))
            pumpCts.Cancel();
        if (pumpTask.IsFaulted && failure is null)
            failure = pumpTask.Exception.InnerException;
        if (producer.Fatal is null)
            await WaitForDeliveriesAsync(Remaining);
        return failure ?? context.Tracker.Failure ?? producer.Fatal;
    }

    private async Task<Exception?> EndStreamAsync(Exception? failure)
    {
        var streamFailed = streamTask.IsFaulted;
        readCts.Cancel();
        pumpCts.Cancel();
        try
        {
            await streamTask;
        }
        catch (Exception e) when (streamFailed && failure is null)
        {
            failure = e;
        }
        catch (Exception e)
        {
            // Either the failure that ended the session is already being reported, or this is the
            // end of the stream we just cancelled.
            _logger.LogDebug("Replication stream ended: {Reason}", e.Message);
        }

        return failure;
    }

    private async Task EndPumpAsync()
    {
        // Exactly-once may still be retrying a commit while Kafka is away: do not wait past the
        // shutdown bound for it. An open Kafka transaction is aborted by the next instance's
        // InitTransactions, and what it held was never confirmed, so it is streamed again.
        if (!await Completes(pumpTask, Remaining + TimeSpan.FromSeconds(1)))
        {
            _logger.LogWarning("Kafka did not finish the open transaction before the shutdown deadline; it will be streamed again after restart");
            return;
        }

        try
        {
            await pumpTask;
        }
        catch (Exception e)
        {
            _logger.LogDebug("Event pump ended: {Reason}", e.Message);
        }
    }

    private async Task WaitForDeliveriesAsync(TimeSpan timeout)
    {
        var tracker = context.Tracker;
        var watch = Stopwatch.StartNew();
        while (!tracker.IsIdle && tracker.Failure is null && watch.Elapsed < timeout)
            await Task.Delay(10);
        if (!tracker.IsIdle)
            _logger.LogWarning("{Count} events were not acknowledged by Kafka in time; they will be streamed again", tracker.InFlightEvents);
    }

    private async Task ConfirmFinalPositionAsync(TimeSpan timeout)
    {
        var target = ReplicationSession.ConfirmableLsn(context, progress, stream, pump);
        try
        {
            await stream.ConfirmAsync(target, CancellationToken.None);
            progress.LastConfirmedLsn = target;
            context.Metrics.Confirmed(target, stream.LastReceivedLsn);
            await WaitForSlotConfirmationAsync(target, timeout);
            _logger.LogInformation("Confirmed {Lsn} to PostgreSQL", Lsn.Format(progress.LastConfirmedLsn));
        }
        catch (Exception e) when (e is NpgsqlException or InvalidOperationException or TimeoutException or ReplicationEndedException)
        {
            _logger.LogWarning("Could not confirm the final position to PostgreSQL ({Reason}); the unconfirmed tail will be streamed again after restart", e.Message);
        }
    }

    /// <summary>
    /// Status updates are asynchronous, and cancelling the stream afterwards can discard one the
    /// walsender has not read yet: wait until the slot shows the position, repeating the update.
    /// </summary>
    private async Task WaitForSlotConfirmationAsync(ulong lsn, TimeSpan timeout)
    {
        var watch = Stopwatch.StartNew();
        await using var connection = new NpgsqlConnection(PostgresConnections.CatalogConnectionString(context.Config.Postgres));
        await connection.OpenAsync();
        var resent = Stopwatch.StartNew();
        while (watch.Elapsed < timeout)
        {
            if (await ReplicationSlots.ConfirmedFlushAsync(connection, context.Config.Postgres.SlotName, CancellationToken.None) is { } confirmed && (ulong)confirmed >= lsn)
                return;
            await Task.Delay(20);
            if (resent.Elapsed >= TimeSpan.FromSeconds(1))
            {
                await stream.ConfirmAsync(lsn, CancellationToken.None);
                resent.Restart();
            }
        }

        _logger.LogWarning("PostgreSQL did not show the confirmed position {Lsn} within {Timeout} s", Lsn.Format(lsn), timeout.TotalSeconds);
    }

    private static async Task<bool> Completes(Task task, TimeSpan timeout)
    {
        if (task.IsCompleted)
            return true;
        await Task.WhenAny(task, Task.Delay(timeout));
        return task.IsCompleted;
    }
}
