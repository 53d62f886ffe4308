using Microsoft.Extensions.Logging;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Metrics;
using PgReplicateKafka.Pipeline.Delivery;
using PgReplicateKafka.Pipeline.Snapshot;
using PgReplicateKafka.Preflight;
using PgReplicateKafka.Sink;
using PgReplicateKafka.Source;

namespace PgReplicateKafka.Pipeline;

/// <summary>
/// Joins the PostgreSQL source and the Kafka sink: runs one <see cref="ReplicationSession"/> per
/// replication connection, and after a failure does what <see cref="FailurePolicy"/> decides:
/// reconnect with backoff, wait as standby, rebuild the producer, or exit.
/// </summary>
/// <param name="producerFactory">Builds a producer for the PostgreSQL cluster's system id (null under at-least-once); a <see cref="KafkaSink"/> by default.</param>
public sealed class Replicator(ReplicatorConfig config, ILoggerFactory loggerFactory, ReplicatorMetrics metrics, Func<string?, IEventProducer>? producerFactory = null)
{
    public Replicator(ReplicatorConfig config, ILoggerFactory loggerFactory)
        : this(config, loggerFactory, new ReplicatorMetrics())
    {
    }

    private readonly ILogger _logger = loggerFactory.CreateLogger<Replicator>();
    private readonly InFlightBudget _budget = new(config.Replication.MaxInFlightBytes);
    private readonly Backoff _backoff = new(TimeSpan.FromMilliseconds(config.Replication.RetryInitialMs), TimeSpan.FromMilliseconds(config.Replication.RetryMaxMs));
    private readonly FailurePolicy _policy = new(config);
    private readonly StreamProgress _progress = new();
    private readonly SnapshotBook _snapshots = new(config, loggerFactory.CreateLogger<SnapshotBook>());
    private CheckpointStore? _checkpoints;
    private Task _kafkaChecked = Task.CompletedTask;
    private bool _standbyLogged;

    /// <summary>The last LSN confirmed to PostgreSQL (0 before the first confirmation).</summary>
    public ulong LastConfirmedLsn => _progress.LastConfirmedLsn;

    /// <summary>Streams until <paramref name="stopToken"/> fires, then stops gracefully. Throws <see cref="ReplicatorException"/> on failure.</summary>
    public async Task RunAsync(CancellationToken stopToken)
    {
        SessionContext? context = null;
        try
        {
            while (true)
            {
                ReplicationSession? session = null;
                try
                {
                    context ??= await BuildContextAsync(stopToken);
                    session = new ReplicationSession(context, _progress, Streaming, _snapshots, _kafkaChecked);
                    await session.RunAsync(stopToken);
                    return;
                }
                catch (Exception e) when (stopToken.IsCancellationRequested && _policy.Decide(e, context?.Producer, _progress).Action != FailureAction.Exit)
                {
                    // Stopping anyway, and the next start recovers from this failure as a running replicator
                    // would (PostgreSQL went away too, as when one host shuts both down; the last Kafka
                    // transaction aborted): the stop delivered what it could, the rest is streamed again.
                    _logger.LogWarning("Stopped without confirming the last position ({Reason}); what was not confirmed will be streamed again after restart",
                        FailurePolicy.Describe(e));
                    return;
                }
                catch (Exception e) when (!stopToken.IsCancellationRequested)
                {
                    var decision = _policy.Decide(e, context?.Producer, _progress);
                    _logger.LogDebug("Session ended ({Reason}): {Action}", FailurePolicy.Describe(e), decision.Action);
                    if (decision.Action == FailureAction.Exit)
                        throw decision.Fatal!;
                    if (decision.Action == FailureAction.RebuildProducer)
                    {
                        // What was in flight may be resent by the new producer, from the last confirmed
                        // position; exactly-once reads again what Kafka committed (see ExactlyOnceDelivery.Resume).
                        _logger.LogError("Kafka producer failed ({Reason}); rebuilding it and resuming from the last confirmed position", context!.Producer.Fatal!.Message);
                        _logger.LogDebug(e, "Session ended");
                        context = Abandon(context, session);
                    }
                    else if (context is not null && session?.Pump is { IsCompleted: false })
                    {
                        // Two pumps must never share a delivery: the old one may still be inside a commit.
                        _logger.LogWarning("The last session's event pump is still waiting for Kafka; continuing with a new producer");
                        context = Abandon(context, session);
                    }
                    else if (context?.Delivery is ExactlyOnceDelivery { Initialized: true })
                    {
                        // Another instance may take the slot before we get it back, fence this producer and
                        // commit past the slot's position: the next session fences in turn and reads the checkpoint.
                        context = Abandon(context, session);
                    }

                    _progress.Recovering = true;
                    metrics.SetState(ReplicatorState.Reconnecting);
                    await Task.Delay(Delay(decision.Action, e), stopToken);
                }
            }
        }
        catch (OperationCanceledException) when (stopToken.IsCancellationRequested)
        {
            // Stopped while connecting or waiting to reconnect: nothing is in flight.
        }
        catch (Exception e) when (e is not ReplicatorException)
        {
            throw _policy.ToFatal(e);
        }
        finally
        {
            context?.Close();
        }
    }

    /// <summary>Gives up a context: its producer is disposed once its pump (if still running) has ended.</summary>
    private SessionContext? Abandon(SessionContext context, ReplicationSession? session)
    {
        _progress.LastConfirmedLsn = Math.Max(_progress.LastConfirmedLsn, context.Tracker.ConfirmedLsn);
        if (session?.Pump is { IsCompleted: false } pump)
            _ = pump.ContinueWith(_ => context.Close(), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
        else
            context.Close();
        return null;
    }

    private async Task<SessionContext> BuildContextAsync(CancellationToken ct)
    {
        // The Kafka check runs while PostgreSQL is asked and checked (each is a first connection, a few
        // hundred milliseconds of start-up); the session awaits it before it uses Kafka, and before it
        // reports a PostgreSQL failure, so a Kafka failure still comes first (exit 4).
        if (!_progress.Established)
            _kafkaChecked = Blocking.Run(() => StartupChecks.Kafka(config.Kafka));
        // The cluster names the transactional.id and the checkpoint key, so two clusters with the
        // same database and slot names never fence each other or read each other's checkpoints.
        string? systemId = null;
        if (config.Replication.Delivery == DeliveryGuarantee.ExactlyOnce)
        {
            try
            {
                systemId = (await ClusterIdentity.IdentifyAsync(config.Postgres, ct)).SystemId;
            }
            catch
            {
                await _kafkaChecked;
                throw;
            }

            if (_checkpoints?.SystemId != systemId)
                _checkpoints = new CheckpointStore(config, systemId, _logger);
            // Started here to overlap PostgreSQL's checks; the session awaits it before reading the checkpoint.
            _ = _checkpoints.EnsureTopicAsync();
        }

        var producer = producerFactory?.Invoke(systemId) ?? new KafkaSink(config, loggerFactory.CreateLogger<KafkaSink>(), systemId);
        var produced = _budget.Share();
        var tracker = new DeliveryTracker(metrics, produced);
        IDeliveryMode delivery = _checkpoints is null
            ? new AtLeastOnceDelivery(producer, tracker)
            : new ExactlyOnceDelivery(config, producer, _checkpoints, tracker, produced, _logger, progress: _progress);
        return new SessionContext(config, metrics, _logger, produced, producer, tracker, delivery, _checkpoints, new TopicRouter(config));
    }

    private TimeSpan Delay(FailureAction action, Exception failure)
    {
        var delay = _backoff.Next();
        switch (action)
        {
            case FailureAction.Standby:
                // Another instance streams from the slot: stay standby and take over when it stops.
                if (!_standbyLogged)
                    _logger.LogInformation("Replication slot {Slot} is in use ({Reason}); waiting as standby until it is free", config.Postgres.SlotName, FailurePolicy.Describe(failure));
                _standbyLogged = true;
                return TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds, 2000));
            case FailureAction.Restream:
                // Its PostgreSQL transactions were never confirmed: stream them again from the last commit.
                _logger.LogWarning("{Reason}; streaming again from the last committed checkpoint", failure.Message);
                return delay;
            case FailureAction.Reconnect:
                _logger.LogWarning("PostgreSQL connection lost ({Reason}); reconnecting in {Delay:0.0} s (attempt {Attempt})",
                    FailurePolicy.Describe(failure), delay.TotalSeconds, _backoff.Attempt);
                return delay;
            default:
                return delay;
        }
    }

    /// <summary>The session's walsender holds the slot: streaming works (again).</summary>
    private void Streaming()
    {
        _logger.LogInformation(
            _progress.Established ? "Reconnected: streaming publication {Publication} from slot {Slot} again" : "Streaming publication {Publication} from slot {Slot} to Kafka {Brokers} (topics {Prefix}.<schema>.<table>)",
            config.Postgres.Publication, config.Postgres.SlotName, string.Join(',', config.Kafka.Brokers), config.Kafka.TopicPrefix);
        metrics.SetState(ReplicatorState.Streaming);
        _progress.Established = true;
        _progress.Recovering = false;
        _standbyLogged = false;
        _backoff.Reset();
    }
}
