using System.Runtime.CompilerServices;
using PgReplicateKafka.Events;
using Prometheus;

namespace PgReplicateKafka.Metrics;

/// <summary>What the replicator is doing, for <c>/healthz</c> and the <c>pgrk_state</c> metric.</summary>
public enum ReplicatorState { Starting, Streaming, Reconnecting, Stopping }

/// <summary>
/// The replicator's Prometheus metrics, in a registry of its own (so tests and several instances
/// never share counters). The pipeline calls the small API below; the per-event calls are
/// allocation-free because the labelled children are created once per table and operation.
/// </summary>
public sealed class ReplicatorMetrics
{
    private static readonly string[] Operations = [.. Enum.GetValues<ChangeOperation>().Select(o => o.ToString().ToLowerInvariant())];

    private static readonly string[] WalStatuses = ["reserved", "extended", "unreserved", "lost"];

    private readonly Counter _events;
    private readonly Counter _transactions;
    private readonly Counter _producedBytes;
    private readonly Gauge _confirmedLsn;
    private readonly Gauge _lagBytes;
    private readonly Gauge _lagSeconds;
    private readonly Counter _deliveryErrors;
    private readonly Gauge _inFlightEvents;
    private readonly Gauge _inFlightBytes;
    private readonly Gauge _state;
    private readonly Gauge _slotSafeWal;
    private readonly Gauge _slotWalStatus;

    // Only the pipeline's single producing task adds tables; a copy-on-write swap would be needed otherwise.
    private readonly Dictionary<string, Counter.Child[]> _eventsByTable = new(StringComparer.Ordinal);
    private volatile int _currentState = (int)ReplicatorState.Starting;

    public ReplicatorMetrics()
    {
        Registry = Prometheus.Metrics.NewCustomRegistry();
        var factory = Prometheus.Metrics.WithCustomRegistry(Registry);
        _events = factory.CreateCounter("pgrk_events_total", "Change events handed to Kafka, by table (schema.table) and operation.", "table", "op");
        _transactions = factory.CreateCounter("pgrk_transactions_total", "PostgreSQL transactions whose events Kafka has all acknowledged.");
        _producedBytes = factory.CreateCounter("pgrk_produced_bytes_total", "Bytes (key plus value) of the events handed to Kafka.");
        _confirmedLsn = factory.CreateGauge("pgrk_confirmed_lsn", "Last WAL position (LSN as a number) confirmed to PostgreSQL.");
        _lagBytes = factory.CreateGauge("pgrk_lag_bytes", "Bytes of WAL between the confirmed position and the server's latest reported WAL position.");
        _lagSeconds = factory.CreateGauge("pgrk_lag_seconds", "Seconds from a transaction's commit in PostgreSQL to Kafka's acknowledgement of its event, for the latest event.");
        _deliveryErrors = factory.CreateCounter("pgrk_delivery_errors_total", "Events Kafka did not acknowledge.");
        _inFlightEvents = factory.CreateGauge("pgrk_in_flight_events", "Events handed to Kafka and not yet acknowledged.");
        _inFlightBytes = factory.CreateGauge("pgrk_in_flight_bytes", "Bytes of the events handed to Kafka and not yet acknowledged.");
        _state = factory.CreateGauge("pgrk_state", "1 for the replicator's current state, 0 for the others.", "state");
        _slotSafeWal = factory.CreateGauge("pgrk_slot_safe_wal_bytes", "Bytes of WAL that can still be written before the slot is in danger of invalidation (pg_replication_slots.safe_wal_size); absent while max_slot_wal_keep_size is unlimited.",
            new GaugeConfiguration { SuppressInitialValue = true });
        _slotWalStatus = factory.CreateGauge("pgrk_slot_wal_status", "1 for the slot's current pg_replication_slots.wal_status, 0 for the others.", "status");
        Snapshot = new SnapshotMetrics(factory);
        foreach (var state in Enum.GetValues<ReplicatorState>())
            _state.WithLabels(state.ToString().ToLowerInvariant()).Set(state == ReplicatorState.Starting ? 1 : 0);
    }

    public CollectorRegistry Registry { get; }

    public SnapshotMetrics Snapshot { get; }

    public ReplicatorState State => (ReplicatorState)_currentState;

    public void SetState(ReplicatorState state)
    {
        var previous = (ReplicatorState)Interlocked.Exchange(ref _currentState, (int)state);
        _state.WithLabels(previous.ToString().ToLowerInvariant()).Set(0);
        _state.WithLabels(state.ToString().ToLowerInvariant()).Set(1);
    }

    /// <summary>An event was handed to the producer. Called from the single producing task only.</summary>
    // Runs per change: compiled optimized at its first call, not after seconds of tier 0 (see EventPump).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void EventProduced(string table, ChangeOperation operation, int bytes)
    {
        if (!_eventsByTable.TryGetValue(table, out var children))
            children = AddTable(table);

        children[(int)operation].Inc();
        _producedBytes.Inc(bytes);
        _inFlightEvents.Inc();
        _inFlightBytes.Inc(bytes);
    }

    /// <summary>A message other than a change event (a tombstone, a transaction record) was handed to the producer.</summary>
    public void MessageProduced(int bytes)
    {
        _producedBytes.Inc(bytes);
        _inFlightEvents.Inc();
        _inFlightBytes.Inc(bytes);
    }

    // Apart from the hot path: its lambda's closure would otherwise be allocated on every call.
    private Counter.Child[] AddTable(string table)
    {
        Counter.Child[] children = [.. Operations.Select(op => _events.WithLabels(table, op))];
        _eventsByTable[table] = children;
        return children;
    }

    /// <summary>Kafka acknowledged an event; runs where the producer's delivery reports are served.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void EventAcknowledged(DateTime commitTimestamp, int bytes)
    {
        _lagSeconds.Set(Math.Max(0, (DateTime.UtcNow - commitTimestamp).TotalSeconds));
        _inFlightEvents.Dec();
        _inFlightBytes.Dec(bytes);
    }

    /// <summary>Kafka reported an event as not delivered; runs where the producer's delivery reports are served.</summary>
    public void EventFailed(int bytes)
    {
        _deliveryErrors.Inc();
        _inFlightEvents.Dec();
        _inFlightBytes.Dec(bytes);
    }

    public void TransactionAcknowledged() => _transactions.Inc();

    /// <summary>The confirmed position and the latest WAL position the server reported.</summary>
    public void Confirmed(ulong confirmedLsn, ulong serverLsn)
    {
        _confirmedLsn.Set(confirmedLsn);
        _lagBytes.Set(serverLsn > confirmedLsn ? serverLsn - confirmedLsn : 0);
    }

    /// <summary>The slot's WAL retention as pg_replication_slots shows it.</summary>
    public void SlotRetention(string? walStatus, long? safeWalSize)
    {
        foreach (var status in WalStatuses)
            _slotWalStatus.WithLabels(status).Set(status == walStatus ? 1 : 0);
        if (safeWalSize is { } safe)
            _slotSafeWal.Set(safe);
    }
}
