using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Events;
using PgReplicateKafka.Metrics;
using PgReplicateKafka.Operations;
using PgReplicateKafka.Sink;
using PgReplicateKafka.Source;

namespace PgReplicateKafka.Pipeline;

/// <summary>
/// Joins the PostgreSQL source and the Kafka sink: changes flow source → channel → JSON → producer,
/// and an LSN is confirmed to PostgreSQL only once every event up to it is acknowledged by Kafka.
/// Runs one session per replication connection and reconnects, with backoff, when PostgreSQL is
/// lost; rebuilds the producer after a fatal producer error.
/// </summary>
public sealed class Replicator(ReplicatorConfig config, ILoggerFactory loggerFactory, ReplicatorMetrics metrics)
{
    public Replicator(ReplicatorConfig config, ILoggerFactory loggerFactory)
        : this(config, loggerFactory, new ReplicatorMetrics())
    {
    }

    // Messages buffered between the receive loop and the pump; bytes are bounded by the budget.
    private const int ChannelCapacity = 8192;

    private readonly ILogger _logger = loggerFactory.CreateLogger<Replicator>();
    private readonly InFlightBudget _budget = new(config.Replication.MaxInFlightBytes);
    private readonly Backoff _backoff = new(TimeSpan.FromMilliseconds(config.Replication.RetryInitialMs), TimeSpan.FromMilliseconds(config.Replication.RetryMaxMs));
    private DeliveryTracker _tracker = null!;
    private TransactionBatcher? _batcher;
    private CheckpointStore? _checkpoints;
    private bool _established;
    private bool _standbyLogged;

    /// <summary>The producer in use (tests inject faults into it).</summary>
    internal KafkaSink? Sink { get; private set; }

    /// <summary>The last LSN confirmed to PostgreSQL (0 before the first confirmation).</summary>
    public ulong LastConfirmedLsn { get; private set; }

    /// <summary>Streams until <paramref name="stopToken"/> fires, then stops gracefully. Throws <see cref="ReplicatorException"/> on failure.</summary>
    public async Task RunAsync(CancellationToken stopToken)
    {
        KafkaSink? sink = null;
        try
        {
            while (true)
            {
                if (sink is null)
                {
                    if (!_established)
                        new CheckReport([KafkaChecks.Reachability(config.Kafka)]).ThrowIfFailed();
                    sink = new KafkaSink(config, loggerFactory.CreateLogger<KafkaSink>());
                    Sink = sink;
                    _tracker = new DeliveryTracker(metrics, _budget);
                    if (sink.Transactional)
                    {
                        _checkpoints ??= new CheckpointStore(config, _logger);
                        await _checkpoints.EnsureTopicAsync(sink.Producer);
                        _batcher = new TransactionBatcher(config, sink, _checkpoints, _budget, _logger);
                    }
                }

                try
                {
                    await RunSessionAsync(sink, stopToken);
                    return;
                }
                catch (Exception) when (sink.Fenced)
                {
                    // Rebuilding would only fence the other instance back: one of the two must go.
                    throw sink.Fatal ?? new KafkaFailureException("another producer with the same transactional.id fenced this instance");
                }
                catch (Exception e) when (sink.Fatal is not null && _established && !stopToken.IsCancellationRequested)
                {
                    // The idempotent producer cannot continue (e.g. its sequence broke): start a new
                    // one from the last confirmed position; what was in flight may be resent.
                    _logger.LogError("Kafka producer failed ({Reason}); rebuilding it and resuming from the last confirmed position", sink.Fatal.Message);
                    LastConfirmedLsn = Math.Max(LastConfirmedLsn, _tracker.ConfirmedLsn);
                    _logger.LogDebug(e, "Session ended");
                    sink.Dispose();
                    sink = null;
                    await Task.Delay(_backoff.Next(), stopToken);
                }
                catch (KafkaTransactionAbortedException e) when (!stopToken.IsCancellationRequested)
                {
                    // Its PostgreSQL transactions were never confirmed: stream them again from the last commit.
                    metrics.SetState(ReplicatorState.Reconnecting);
                    _logger.LogWarning("{Reason}; streaming again from the last committed checkpoint", e.Message);
                    await Task.Delay(_backoff.Next(), stopToken);
                }
                catch (Exception e) when (ShouldReconnect(e, stopToken))
                {
                    metrics.SetState(ReplicatorState.Reconnecting);
                    var delay = _backoff.Next();
                    if (PostgresFailures.IsSlotBusy(e))
                    {
                        // Another instance streams from the slot: stay standby and take over when it stops.
                        delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds, 2000));
                        if (!_standbyLogged)
                            _logger.LogInformation("Replication slot {Slot} is in use ({Reason}); waiting as standby until it is free", config.Postgres.SlotName, Describe(e));
                        _standbyLogged = true;
                    }
                    else
                    {
                        _logger.LogWarning("PostgreSQL connection lost ({Reason}); reconnecting in {Delay:0.0} s (attempt {Attempt})",
                            Describe(e), delay.TotalSeconds, _backoff.Attempt);
                    }

                    await Task.Delay(delay, stopToken);
                }
            }
        }
        catch (OperationCanceledException) when (stopToken.IsCancellationRequested)
        {
            // Stopped while connecting or waiting to reconnect: nothing is in flight.
        }
        catch (Exception e) when (e is not ReplicatorException)
        {
            throw e switch
            {
                NpgsqlException or TimeoutException or ReplicationEndedException =>
                    new PostgresSetupException($"PostgreSQL at {PostgresConnections.Describe(config.Postgres)}: {Describe(e)}", e),
                Confluent.Kafka.KafkaException or KafkaTransactionAbortedException =>
                    new KafkaFailureException($"Kafka at {string.Join(',', config.Kafka.Brokers)}: {Describe(e)}", e),
                _ => new ReplicatorException(ExitCodes.RuntimeFailure, $"replication failed: {e.Message}", e),
            };
        }
        finally
        {
            sink?.Dispose();
        }
    }

    /// <summary>
    /// Once streaming has worked, every transient PostgreSQL failure is retried; before that only a
    /// busy slot is (standby), so a wrong host or a server that is down fails fast at start.
    /// </summary>
    private bool ShouldReconnect(Exception e, CancellationToken stopToken) =>
        !stopToken.IsCancellationRequested && PostgresFailures.IsTransient(e) && (_established || PostgresFailures.IsSlotBusy(e));

    private static string Describe(Exception e) =>
        e is PostgresSetupException || e.InnerException is null ? e.Message : $"{e.Message}: {e.InnerException.Message}";

    private async Task RunSessionAsync(KafkaSink sink, CancellationToken stopToken)
    {
        await using var state = await SourceSetup.PrepareAsync(config.Postgres, createSlot: !_established, _logger, stopToken);

        // Start after what is already delivered, even when the slot lags behind it (e.g. after
        // PostgreSQL crashed before persisting our last confirmation): PostgreSQL skips those commits.
        var startLsn = Math.Max((ulong)state.StartLsn, Math.Max(LastConfirmedLsn, _tracker.ConfirmedLsn));
        if (_checkpoints is not null && !_established && !state.SlotCreated)
        {
            // Kafka may hold transactions PostgreSQL never heard confirmed (a crash between the two):
            // the last committed checkpoint says how far, and PostgreSQL skips everything up to it.
            // Not for a slot created just now: a checkpoint can only be of an earlier slot (say, of a
            // rebuilt database), and skipping to it would drop real changes.
            var checkpoint = _checkpoints.ReadLast(config.Kafka.ConnectTimeout);
            if (checkpoint > startLsn)
            {
                _logger.LogInformation("Kafka holds transactions up to {Checkpoint} (checkpoint topic {Topic}); PostgreSQL had confirmed {Confirmed}: skipping the difference",
                    new NpgsqlLogSequenceNumber(checkpoint), _checkpoints.Topic, state.StartLsn);
                startLsn = checkpoint;
            }
        }

        LastConfirmedLsn = startLsn;

        _budget.Reset();
        var channel = Channel.CreateBounded<SourceMessage>(new BoundedChannelOptions(ChannelCapacity) { SingleReader = true, SingleWriter = true });
        await using var stream = await ReplicationStream.OpenAsync(config, state, new NpgsqlLogSequenceNumber(startLsn), channel.Writer, _budget, _logger, stopToken);
        var pump = new EventPump(config, sink, _tracker, _budget, _batcher, _logger);

        using var readCts = new CancellationTokenSource();
        using var pumpCts = new CancellationTokenSource();
        var streamTask = Task.Run(() => stream.RunAsync(readCts.Token), CancellationToken.None);
        var pumpTask = Task.Run(() => pump.RunAsync(channel.Reader, pumpCts.Token), CancellationToken.None);

        Exception? failure = null;
        try
        {
            await StreamUntilStoppedAsync(stream, pump, sink, streamTask, pumpTask, stopToken);
        }
        catch (Exception e)
        {
            failure = e;
        }

        failure = await ShutDownAsync(stream, pump, sink, streamTask, pumpTask, readCts, pumpCts, failure);
        if (failure is not null)
            throw failure;
    }

    private async Task StreamUntilStoppedAsync(ReplicationStream stream, EventPump pump, KafkaSink sink, Task streamTask, Task pumpTask, CancellationToken stopToken)
    {
        var lastSent = Stopwatch.StartNew();
        var confirmedInSession = false;
        while (!stopToken.IsCancellationRequested)
        {
            await Task.WhenAny(Task.Delay(config.Replication.PollInterval, stopToken), streamTask, pumpTask);
            ThrowIfFailed(sink, streamTask, pumpTask);
            if (streamTask.IsCompleted)
                throw new ReplicationEndedException();

            if (!_established || _backoff.Attempt > 0 || _standbyLogged)
                await CheckEstablishedAsync(stream);

            var target = ConfirmableLsn(stream, pump);
            metrics.Confirmed(LastConfirmedLsn, stream.LastReceivedLsn);
            // The first delivery of a session is confirmed at once: a process that dies young should
            // not make its successor resend what it already delivered.
            if (target > LastConfirmedLsn && (lastSent.Elapsed >= config.Replication.CheckpointInterval || !confirmedInSession))
            {
                confirmedInSession = true;
                // Not cancellable by the stop: a half-sent confirmation would make the stop skip the final one.
                await stream.ConfirmAsync(target, CancellationToken.None);
                LastConfirmedLsn = target;
                lastSent.Restart();
                _logger.LogDebug("Confirmed {Lsn} to PostgreSQL", new NpgsqlLogSequenceNumber(target));
            }
        }
    }

    /// <summary>Streaming is established once the slot shows our walsender as its active process.</summary>
    private async Task CheckEstablishedAsync(ReplicationStream stream)
    {
        await using var connection = new NpgsqlConnection(PostgresConnections.CatalogConnectionString(config.Postgres));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = config.Postgres.SlotName });
        if (await command.ExecuteScalarAsync() is not int pid || pid != stream.ProcessId)
            return;

        _logger.LogInformation(
            _established ? "Reconnected: streaming publication {Publication} from slot {Slot} again" : "Streaming publication {Publication} from slot {Slot} to Kafka {Brokers} (topics {Prefix}.<schema>.<table>)",
            config.Postgres.Publication, config.Postgres.SlotName, string.Join(',', config.Kafka.Brokers), config.Kafka.TopicPrefix);
        metrics.SetState(ReplicatorState.Streaming);
        _established = true;
        _standbyLogged = false;
        _backoff.Reset();
    }

    /// <summary>Delivered transactions, or, when nothing at all is in flight, the server's WAL position.</summary>
    private ulong ConfirmableLsn(ReplicationStream stream, EventPump pump)
    {
        var target = _tracker.ConfirmedLsn;
        if (stream.TryGetIdlePosition(out var idleLsn, out var forwardedCommits) && pump.CommitsSeen == forwardedCommits && _tracker.IsIdle)
            target = Math.Max(target, idleLsn);
        return Math.Max(target, LastConfirmedLsn);
    }

    private void ThrowIfFailed(KafkaSink sink, Task streamTask, Task pumpTask)
    {
        if (streamTask.IsFaulted)
            throw streamTask.Exception.InnerException!;
        if (pumpTask.IsFaulted)
            throw pumpTask.Exception.InnerException!;
        if (_tracker.Failure is { } delivery)
            throw delivery;
        if (sink.Fatal is { } fatal)
            throw fatal;
    }

    /// <summary>
    /// Ends a session. Graceful stop (no failure): stop reading at a transaction boundary, deliver
    /// what is in flight (bounded by shutdown_timeout_secs), confirm it and wait until PostgreSQL
    /// shows it. After a failure: deliver what was handed over (bounded) so a reconnect can skip it.
    /// </summary>
    private async Task<Exception?> ShutDownAsync(
        ReplicationStream stream, EventPump pump, KafkaSink sink, Task streamTask, Task pumpTask,
        CancellationTokenSource readCts, CancellationTokenSource pumpCts, Exception? failure)
    {
        metrics.SetState(ReplicatorState.Stopping);
        var deadline = Stopwatch.StartNew();
        var timeout = config.Replication.ShutdownTimeout;
        TimeSpan Remaining() => timeout - deadline.Elapsed > TimeSpan.Zero ? timeout - deadline.Elapsed : TimeSpan.Zero;
        if (failure is null)
        {
            metrics.SetState(ReplicatorState.Stopping);
            _logger.LogInformation("Stopping: delivering events in flight");
        }

        if (failure is not null)
            readCts.Cancel(); // the session is over: no point finishing the transaction being read
        stream.RequestStop();
        if (!await Completes(stream.ForwardingDone, Remaining()))
        {
            // Drop the rest of the transaction, but keep the connection: what was delivered before
            // it must still be confirmed, or a restart would repeat it too.
            _logger.LogWarning("A transaction was still arriving at the shutdown deadline; it will be streamed again after restart");
            stream.StopNow();
        }

        if (sink.Fatal is null && !await Completes(pumpTask, Remaining()))
            pumpCts.Cancel();
        if (pumpTask.IsFaulted && failure is null)
            failure = pumpTask.Exception.InnerException;
        if (sink.Fatal is null)
            await WaitForDeliveriesAsync(Remaining());
        failure ??= _tracker.Failure ?? sink.Fatal;

        if (!streamTask.IsCompleted && failure is null)
        {
            // Bounded so a stop stays within shutdown_timeout_secs (plus a second) even when PostgreSQL is slow.
            await ConfirmFinalPositionAsync(stream, pump, Remaining() > TimeSpan.FromSeconds(1) ? Remaining() : TimeSpan.FromSeconds(1));
        }

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

        // Exactly-once may still be retrying a commit while Kafka is away: do not wait past the
        // shutdown bound for it. An open Kafka transaction is aborted by the next instance's
        // InitTransactions, and what it held was never confirmed, so it is streamed again.
        if (!await Completes(pumpTask, Remaining() + TimeSpan.FromSeconds(1)))
        {
            _logger.LogWarning("Kafka did not finish the open transaction before the shutdown deadline; it will be streamed again after restart");
            return failure;
        }

        try
        {
            await pumpTask;
        }
        catch (Exception e)
        {
            _logger.LogDebug("Event pump ended: {Reason}", e.Message);
        }

        return failure;
    }

    private async Task WaitForDeliveriesAsync(TimeSpan timeout)
    {
        var watch = Stopwatch.StartNew();
        while (!_tracker.IsIdle && _tracker.Failure is null && watch.Elapsed < timeout)
            await Task.Delay(10);
        if (!_tracker.IsIdle)
            _logger.LogWarning("{Count} events were not acknowledged by Kafka in time; they will be streamed again", _tracker.InFlightEvents);
    }

    private async Task ConfirmFinalPositionAsync(ReplicationStream stream, EventPump pump, TimeSpan timeout)
    {
        var target = ConfirmableLsn(stream, pump);
        try
        {
            await stream.ConfirmAsync(target, CancellationToken.None);
            LastConfirmedLsn = target;
            metrics.Confirmed(target, stream.LastReceivedLsn);
            await WaitForSlotConfirmationAsync(stream, target, timeout);
            _logger.LogInformation("Confirmed {Lsn} to PostgreSQL", new NpgsqlLogSequenceNumber(LastConfirmedLsn));
        }
        catch (Exception e) when (e is NpgsqlException or InvalidOperationException or TimeoutException)
        {
            _logger.LogWarning("Could not confirm the final position to PostgreSQL ({Reason}); the unconfirmed tail will be streamed again after restart", e.Message);
        }
    }

    /// <summary>
    /// Status updates are asynchronous, and cancelling the stream afterwards can discard one the
    /// walsender has not read yet: wait until the slot shows the position, repeating the update.
    /// </summary>
    private async Task WaitForSlotConfirmationAsync(ReplicationStream stream, ulong lsn, TimeSpan timeout)
    {
        var watch = Stopwatch.StartNew();
        await using var connection = new NpgsqlConnection(PostgresConnections.CatalogConnectionString(config.Postgres));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = config.Postgres.SlotName });
        var resent = Stopwatch.StartNew();
        while (watch.Elapsed < timeout)
        {
            if (await command.ExecuteScalarAsync() is string text && (ulong)NpgsqlLogSequenceNumber.Parse(text) >= lsn)
                return;
            await Task.Delay(20);
            if (resent.Elapsed >= TimeSpan.FromSeconds(1))
            {
                await stream.ConfirmAsync(lsn, CancellationToken.None);
                resent.Restart();
            }
        }

        _logger.LogWarning("PostgreSQL did not show the confirmed position {Lsn} within {Timeout} s", new NpgsqlLogSequenceNumber(lsn), timeout.TotalSeconds);
    }

    private static async Task<bool> Completes(Task task, TimeSpan timeout)
    {
        if (task.IsCompleted)
            return true;
        await Task.WhenAny(task, Task.Delay(timeout));
        return task.IsCompleted;
    }
}
