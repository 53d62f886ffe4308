using Microsoft.Extensions.Logging;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Sink;
using PgReplicateKafka.Source;

namespace PgReplicateKafka.Pipeline.Snapshot;

/// <summary>
/// The acknowledged snapshot progress of every table, across the sessions of one run: read from the
/// progress topic once, then kept up to date as Kafka acknowledges chunks, so a reconnect resumes
/// where the last acknowledged chunk ended.
/// </summary>
public sealed class SnapshotBook(ReplicatorConfig config, ILogger logger)
{
    private readonly Lock _gate = new();
    private Dictionary<string, SnapshotTableProgress>? _tables;
    private SlotIncarnation? _slot;

    public SnapshotProgressStore Store { get; } = new(config, logger);

    /// <summary>Reads the progress topic the first time; later sessions of the run keep what they learnt since.</summary>
    public async Task<RecordedProgress> LoadAsync(CancellationToken ct)
    {
        lock (_gate)
        {
            if (_tables is not null)
                return new RecordedProgress(new Dictionary<string, SnapshotTableProgress>(_tables), _slot);
        }

        var read = await Blocking.Run(() => Store.ReadAll(config.Kafka.ConnectTimeout)).WaitAsync(ct);
        lock (_gate)
        {
            _tables ??= new Dictionary<string, SnapshotTableProgress>(read.Tables);
            // A slot this run recorded before creating it is newer than what the topic held at the read.
            _slot ??= read.Slot;
            return new RecordedProgress(new Dictionary<string, SnapshotTableProgress>(_tables), _slot);
        }
    }

    /// <summary>
    /// Called just before the replicator creates the slot: records the new incarnation first, so a process
    /// that dies between the slot's creation and its snapshot's first acknowledged chunk cannot leave the
    /// progress of the slot before in charge. The server's WAL position now lies at or before the slot's start.
    /// </summary>
    public async Task RecordSlotCreationAsync(CancellationToken ct)
    {
        var cluster = await ClusterIdentity.IdentifyAsync(config.Postgres, ct);
        await RecordSlotAsync(new SlotIncarnation(cluster.SystemId, cluster.WalPosition), ct);
    }

    /// <summary>From now on the progress belongs to <paramref name="slot"/>; returns once Kafka holds that.</summary>
    public async Task RecordSlotAsync(SlotIncarnation slot, CancellationToken ct)
    {
        await Store.WriteAsync([Store.SlotRecord(slot)], ct);
        lock (_gate)
            _slot = slot;
    }

    /// <summary>Planned or acknowledged: this is where the table's snapshot stands now.</summary>
    public void Set(SnapshotTableProgress progress)
    {
        lock (_gate)
            (_tables ??= [])[progress.Key] = progress;
    }

    /// <summary>Whether a snapshot or request with this <see cref="SnapshotTableProgress.Key"/> is recorded (in any state).</summary>
    public bool Contains(string key)
    {
        lock (_gate)
            return _tables?.ContainsKey(key) == true;
    }
}
