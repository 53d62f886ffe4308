using Microsoft.Extensions.Logging;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Metrics;
using PgReplicateKafka.Pipeline.Delivery;
using PgReplicateKafka.Pipeline.Snapshot;
using PgReplicateKafka.Preflight;
using PgReplicateKafka.Sink;

namespace PgReplicateKafka.Pipeline;

/// <summary>
/// Joins the PostgreSQL source and the Kafka sink: runs one <see cref="ReplicationSession"/> per
/// replication connection, and after a failure does what <see cref="FailurePolicy"/> decides:
/// reconnect with backoff, wait as standby, rebuild the producer, or exit.
/// </summary>
public sealed class Replicator(ReplicatorConfig config, ILoggerFactory loggerFactory, ReplicatorMetrics metrics, Func<IEventProducer>? producerFactory = null)
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
                context ??= await BuildContextAsync();
                try
                {
                    await new ReplicationSession(context, _progress, Streaming, _snapshots).RunAsync(stopToken);
                    return;
                }
                catch (Exception e) when (!stopToken.IsCancellationRequested)
                {
                    var decision = _policy.Decide(e, context.Producer, _progress.Established);
                    if (decision.Action == FailureAction.Exit)
                        throw decision.Fatal!;
                    if (decision.Action == FailureAction.RebuildProducer)
                    {
                        // What was in flight may be resent by the new producer, from the last confirmed position.
                        _logger.LogError("Kafka producer failed ({Reason}); rebuilding it and resuming from the last confirmed position", context.Producer.Fatal!.Message);
                        _progress.LastConfirmedLsn = Math.Max(_progress.LastConfirmedLsn, context.Tracker.ConfirmedLsn);
                        _logger.LogDebug(e, "Session ended");
                        context.Producer.Dispose();
                        context = null;
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
            context?.Producer.Dispose();
        }
    }

    private async Task<SessionContext> BuildContextAsync()
    {
        if (!_progress.Established)
            StartupChecks.Kafka(config.Kafka);
        var producer = producerFactory?.Invoke() ?? new KafkaSink(config, loggerFactory.CreateLogger<KafkaSink>());
        var tracker = new DeliveryTracker(metrics, _budget);
        IDeliveryMode delivery = new AtLeastOnceDelivery(producer, tracker);
        if (config.Replication.Delivery == DeliveryGuarantee.ExactlyOnce)
        {
            _checkpoints ??= new CheckpointStore(config, _logger);
            await _checkpoints.EnsureTopicAsync();
            delivery = new ExactlyOnceDelivery(config, producer, _checkpoints, tracker, _budget, _logger);
        }

        return new SessionContext(config, metrics, _logger, _budget, producer, tracker, delivery, _checkpoints, new TopicRouter(config.Kafka.TopicPrefix));
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
