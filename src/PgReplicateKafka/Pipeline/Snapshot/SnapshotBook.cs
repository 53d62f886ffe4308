using Microsoft.Extensions.Logging;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Sink;

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

    public SnapshotProgressStore Store { get; } = new(config, logger);

    /// <summary>A snapshot started by this run (a new slot): a later session of the run resumes it rather than deciding again.</summary>
    public bool StartedThisRun { get; set; }

    /// <summary>Reads the progress topic the first time; later sessions of the run keep what they learnt since.</summary>
    public async Task<IReadOnlyDictionary<string, SnapshotTableProgress>> LoadAsync(CancellationToken ct)
    {
        lock (_gate)
        {
            if (_tables is not null)
                return new Dictionary<string, SnapshotTableProgress>(_tables);
        }

        var read = await Blocking.Run(() => Store.ReadAll(config.Kafka.ConnectTimeout)).WaitAsync(ct);
        lock (_gate)
        {
            _tables ??= new Dictionary<string, SnapshotTableProgress>(read);
            return new Dictionary<string, SnapshotTableProgress>(_tables);
        }
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

    /// <summary>A new snapshot of every table starts (a new slot): earlier progress no longer applies.</summary>
    public void Clear()
    {
        lock (_gate)
            _tables = [];
    }
}
