using Prometheus;

namespace PgReplicateKafka.Metrics;

/// <summary>The snapshot series: what is read, what is left, and where a restart resumed.</summary>
public sealed class SnapshotMetrics(IMetricFactory factory)
{
    private readonly Counter _rows = factory.CreateCounter("pgrk_snapshot_rows_total", "Rows read by snapshots (emitted as READ or dropped as changed meanwhile), by table.", ["table"]);
    private readonly Counter _chunks = factory.CreateCounter("pgrk_snapshot_chunks_total", "Snapshot chunks acknowledged by Kafka, by table.", ["table"]);
    private readonly Counter _dropped = factory.CreateCounter("pgrk_snapshot_rows_dropped_total", "Chunk rows not emitted because the stream carried a newer state of them, by table.", ["table"]);
    private readonly Gauge _remaining = factory.CreateGauge("pgrk_snapshot_tables_remaining", "Tables whose snapshot is planned or running.");
    private readonly Counter _resumptions = factory.CreateCounter("pgrk_snapshot_resumptions_total", "Snapshots of a table resumed from its progress record instead of from the start, by table.", ["table"]);
    private readonly Gauge _resumedAt = factory.CreateGauge("pgrk_snapshot_resumed_rows", "Rows the last resumption of a table's snapshot did not read again (its resume point), by table.", ["table"]);

    public void ChunkAcknowledged(string table, int rows, int dropped)
    {
        _rows.WithLabels(table).Inc(rows);
        _dropped.WithLabels(table).Inc(dropped);
        _chunks.WithLabels(table).Inc();
    }

    public void TablesRemaining(int count) => _remaining.Set(count);

    public void Resumed(string table, long rowsBefore)
    {
        _resumptions.WithLabels(table).Inc();
        _resumedAt.WithLabels(table).Set(rowsBefore);
    }
}
