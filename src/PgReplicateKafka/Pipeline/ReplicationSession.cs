using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Npgsql;
using PgReplicateKafka.Events;
using PgReplicateKafka.Metrics;
using PgReplicateKafka.Pipeline.Delivery;
using PgReplicateKafka.Pipeline.Snapshot;
using PgReplicateKafka.Preflight;
using PgReplicateKafka.Source;

namespace PgReplicateKafka.Pipeline;

/// <summary>
/// One replication connection: set-up (checks, slot, start position), the receive loop and the pump
/// on their own tasks, and the confirm loop until a stop or a failure, then <see cref="SessionShutdown"/>.
/// </summary>
/// <param name="kafkaChecked">The start-up's Kafka check, run while PostgreSQL is checked: awaited before the slot is created or Kafka used, and before a PostgreSQL failure is reported, so Kafka's comes first.</param>
public sealed class ReplicationSession(SessionContext context, StreamProgress progress, Action onStreaming, SnapshotBook? snapshotBook = null, Task? kafkaChecked = null)
{
    // Batches (of up to 256 messages, ReplicationStream) buffered between the receive loop and the pump; bytes are bounded by the budget.
    private const int ChannelCapacity = 32;

    private readonly ILogger _logger = context.Logger;

    /// <summary>The session's event pump; it may outlive the session when Kafka blocked a commit past the shutdown bound.</summary>
    public Task? Pump { get; private set; }

    public async Task RunAsync(CancellationToken stopToken)
    {
        SourceState state;
        try
        {
            state = await PrepareSourceAsync(stopToken);
        }
        catch
        {
            if (kafkaChecked is not null)
                await kafkaChecked;
            throw;
        }

        // The changes this session receives are its own share of the budget, ended once its pump is gone
        // (it may outlive the session, stuck in a commit): what it dropped unserialized is freed then,
        // while the producer's share keeps what Kafka has yet to acknowledge, whichever session sent it.
        var received = context.Budget.Share();
        try
        {
            await StreamAsync(state, received, stopToken);
        }
        finally
        {
            if (Pump is { IsCompleted: false } pump)
                _ = pump.ContinueWith(_ => received.End(), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
            else
                received.End();
        }
    }

    private async Task StreamAsync(SourceState state, InFlightBudget received, CancellationToken stopToken)
    {
        await using var _ = state;
        var config = context.Config;
        var channel = Channel.CreateBounded<SourceMessage>(new BoundedChannelOptions(ChannelCapacity) { SingleReader = true, SingleWriter = true });
        await using var stream = await ReplicationStream.OpenAsync(config, state, channel.Writer, received, _logger, stopToken);
        if (context.Checkpoints is { } checkpoints)
            await checkpoints.EnsureTopicAsync().WaitAsync(stopToken);
        var startLsn = await StartPositionAsync(state, stream.Cluster, stopToken);
        progress.LastConfirmedLsn = startLsn;
        var scheduler = snapshotBook is null ? null : new SnapshotScheduler(context with { Budget = received }, snapshotBook, state, stream.Cluster);
        var pump = new EventPump(config, context.Delivery, context.Topics, received, context.Metrics, _logger, state.EnumLabels, scheduler?.Coordinator);

        using var readCts = new CancellationTokenSource();
        using var pumpCts = new CancellationTokenSource();
        using var snapshotCts = new CancellationTokenSource();
        var streamTask = Task.Run(() => stream.RunAsync(startLsn, readCts.Token), CancellationToken.None);
        var pumpTask = Pump = Task.Run(() => pump.RunAsync(channel.Reader, pumpCts.Token), CancellationToken.None);
        var snapshotTask = scheduler is null ? Task.Delay(Timeout.Infinite, snapshotCts.Token) : Task.Run(() => scheduler.RunAsync(snapshotCts.Token), CancellationToken.None);
        // initial_only: the last chunk acknowledged ends the run like a graceful stop.
        var finished = scheduler is not null && config.Snapshot.Mode == Configuration.SnapshotMode.InitialOnly ? scheduler.InitialDone : null;

        Exception? failure = null;
        try
        {
            await StreamUntilStoppedAsync(stream, pump, streamTask, pumpTask, snapshotTask, finished, stopToken);
        }
        catch (Exception e)
        {
            failure = e;
        }

        var shutdown = new SessionShutdown(context, progress, stream, pump, streamTask, pumpTask, readCts, pumpCts);
        failure = await shutdown.RunAsync(failure);
        await snapshotCts.CancelAsync();
        await Task.WhenAny(snapshotTask);
        scheduler?.Coordinator.ReleaseAll();
        if (failure is not null)
            throw failure;
        // initial_only ended with every other table delivered and confirmed: a refused table must not pass for done.
        if (finished?.IsCompleted == true && scheduler!.Refused is { Count: > 0 } refused)
            throw new PostgresSetupException($"the initial snapshot ([snapshot] mode = \"initial_only\") is incomplete: every other table is delivered, but {string.Join("; ", refused)}");
    }

    /// <summary>The PostgreSQL side's checks and set-up: the slot, the publication's tables, the start position.</summary>
    private async Task<SourceState> PrepareSourceAsync(CancellationToken stopToken)
    {
        var config = context.Config;
        var catalog = await PostgresConnections.OpenCatalogAsync(config.Postgres, stopToken);
        try
        {
            try
            {
                await StartupChecks.PostgresAsync(catalog, config, _logger, stopToken);
            }
            catch (SlotBusyException)
            {
                // A standby: everything else checked out, so later transient failures are waited out too.
                progress.Verified = true;
                throw;
            }

            progress.Verified = true;
            // Before the slot is created: a run that cannot reach Kafka must not leave a slot retaining WAL.
            if (kafkaChecked is not null)
                await kafkaChecked;
            // Snapshot progress belongs to one slot incarnation: a new one is recorded before it exists (SnapshotBook).
            Func<CancellationToken, Task>? recordSlot = snapshotBook is not null && config.Snapshot.Mode != Configuration.SnapshotMode.Never ? snapshotBook.RecordSlotCreationAsync : null;
            return await SourceSetup.PrepareAsync(catalog, config.Postgres, createSlot: !progress.Established, _logger, stopToken, recordSlot);
        }
        catch
        {
            await catalog.DisposeAsync();
            throw;
        }
    }

    /// <summary>The session's start: <see cref="ResumeRule"/>, then the exactly-once checkpoint.</summary>
    private async Task<ulong> StartPositionAsync(SourceState state, ClusterIdentity cluster, CancellationToken stopToken)
    {
        var previous = progress.LastCluster;
        progress.LastCluster = cluster;
        var startLsn = ResumeRule.Start((ulong)state.StartLsn, progress.LastConfirmedLsn, context.Tracker.ConfirmedLsn, previous, cluster);
        if (ResumeRule.ServerChanged(previous, cluster))
            _logger.LogWarning("Reconnected to a different server (system {SystemId} timeline {Timeline}, was {PreviousSystemId} timeline {PreviousTimeline}): " +
                "resuming from the slot's confirmed position {Lsn}, not this process's {Confirmed}",
                cluster.SystemId, cluster.Timeline, previous!.SystemId, previous.Timeline, Lsn.Format(startLsn), Lsn.Format(progress.LastConfirmedLsn));
        // Kafka may hold transactions PostgreSQL never heard confirmed (a crash between the two, or a
        // commit whose outcome the failed producer never learnt): the checkpoint says how far.
        // Fencing and the checkpoint read block for up to a minute while Kafka is away: a stop does not wait for them.
        if (context.Delivery is ExactlyOnceDelivery exactlyOnce
            && await Blocking.Run(() => exactlyOnce.Resume(cluster, (ulong)state.StartLsn, state.SlotCreated)).WaitAsync(stopToken) is { } checkpoint
            && checkpoint > startLsn)
        {
            _logger.LogInformation("Kafka holds transactions up to {Checkpoint} (checkpoint topic {Topic}); PostgreSQL had confirmed {Confirmed}: skipping the difference",
                Lsn.Format(checkpoint), context.Checkpoints!.Topic, Lsn.Format(startLsn));
            startLsn = checkpoint;
        }

        return startLsn;
    }

    private async Task StreamUntilStoppedAsync(ReplicationStream stream, EventPump pump, Task streamTask, Task pumpTask, Task snapshotTask, Task? finished, CancellationToken stopToken)
    {
        var lastSent = Stopwatch.StartNew();
        var lastStatus = Stopwatch.StartNew();
        var confirmedInSession = false;
        var retention = new SlotRetentionWatch(context, _logger);
        while (!stopToken.IsCancellationRequested)
        {
            await Task.WhenAny(Task.Delay(context.Config.Replication.PollInterval, stopToken), streamTask, pumpTask);
            ThrowIfFailed(streamTask, pumpTask);
            if (snapshotTask.IsFaulted)
                throw snapshotTask.Exception.InnerException!;
            if (finished?.IsCompleted == true)
            {
                _logger.LogInformation("Snapshot complete and acknowledged; stopping ([snapshot] mode = \"initial_only\")");
                return;
            }

            if (streamTask.IsCompleted)
                throw new ReplicationEndedException();

            if (!progress.Established || progress.Recovering)
                await CheckStreamingAsync(stream);
            await retention.CheckAsync();

            var target = ConfirmableLsn(context, progress, stream, pump);
            context.Metrics.Confirmed(progress.LastConfirmedLsn, stream.LastReceivedLsn);
            // The first delivery of a session is confirmed at once: a process that dies young should
            // not make its successor resend what it already delivered.
            if (target > progress.LastConfirmedLsn && (lastSent.Elapsed >= context.Config.Replication.CheckpointInterval || !confirmedInSession))
            {
                confirmedInSession = true;
                // Not cancellable by the stop: a half-sent confirmation would make the stop skip the final one.
                await stream.ConfirmAsync(target, CancellationToken.None);
                progress.LastConfirmedLsn = target;
                lastSent.Restart();
                lastStatus.Restart();
                _logger.LogDebug("Confirmed {Lsn} to PostgreSQL", Lsn.Format(target));
            }
            else if (lastStatus.Elapsed >= context.Config.Replication.KeepaliveInterval && stream.LastReceivedLsn != 0)
            {
                // While the receive loop waits for room in the budget it reads nothing, so it would notice a
                // server that ended the connection only once Kafka caught up: this update fails on a
                // connection Npgsql's own timed updates found broken. (Not before the stream has shown it
                // replicates: Npgsql refuses an update before START_REPLICATION is answered.)
                await stream.ConfirmAsync(progress.LastConfirmedLsn, CancellationToken.None);
                lastStatus.Restart();
            }
        }
    }

    /// <summary>Streaming is established once the slot shows our walsender as its active process.</summary>
    private async Task CheckStreamingAsync(ReplicationStream stream)
    {
        await using var connection = new NpgsqlConnection(PostgresConnections.CatalogConnectionString(context.Config.Postgres));
        await connection.OpenAsync();
        if (await ReplicationSlots.ActivePidAsync(connection, context.Config.Postgres.SlotName, CancellationToken.None) == stream.ProcessId)
            onStreaming();
    }

    /// <summary>The position the session may confirm now: delivered transactions, or, when nothing at all is in flight, the server's WAL position.</summary>
    internal static ulong ConfirmableLsn(SessionContext context, StreamProgress progress, ReplicationStream stream, EventPump pump)
    {
        var streamIdle = stream.TryGetIdlePosition(out var idleLsn, out var forwardedCommits);
        return ConfirmationRule.Next(
            context.Tracker.ConfirmedLsn, context.Tracker.IsIdle, streamIdle, idleLsn, forwardedCommits, pump.CommitsSeen, progress.LastConfirmedLsn);
    }

    private void ThrowIfFailed(Task streamTask, Task pumpTask)
    {
        if (streamTask.IsFaulted)
            throw streamTask.Exception.InnerException!;
        if (pumpTask.IsFaulted)
            throw pumpTask.Exception.InnerException!;
        if (context.Tracker.Failure is { } delivery)
            throw delivery;
        if (context.Producer.Fatal is { } fatal)
            throw fatal;
    }
}
