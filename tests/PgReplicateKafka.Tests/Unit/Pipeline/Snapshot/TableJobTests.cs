using PgReplicateKafka.Events;
using PgReplicateKafka.Events.Values;
using PgReplicateKafka.Pipeline.Snapshot;
using PgReplicateKafka.Sink;
using PgReplicateKafka.Source.Snapshot;

namespace PgReplicateKafka.Tests.Unit.Pipeline.Snapshot;

public class TableJobTests
{
    [Fact]
    public async Task Progress_of_two_ranges_is_saved_newest_last_whichever_reader_is_acknowledged_first()
    {
        var table = new SnapshotTable(1, "public", "items", partitioned: false, [new SnapshotColumn("id", 23, "integer", IsReplicaIdentity: true)],
            pagingKey: [0], pagingIndex: null, messageKey: [0], identityIsFull: false, rowFilter: null, estimatedRows: 2500);
        var info = new TableInfo(1, "public", "items", [new ColumnInfo("id", TypeCatalog.Builtin.Resolve(23), true)], identityIsFull: false, [0]);
        var job = new TableJob(table, info, "s", [new RangeState(KeyRange.All, null, false), new RangeState(KeyRange.All, null, false)], 0, null);
        var visibility = SnapshotVisibility.Parse("10:10:");
        var first = job.Advance(0, new SnapshotChunk([], ["1000"], IsLast: true, visibility), 0, out var firstVersion);
        var second = job.Advance(1, new SnapshotChunk([], ["2500"], IsLast: true, visibility), 0, out var secondVersion);
        Assert.True(secondVersion > firstVersion);
        Assert.Equal(SnapshotTableState.Done, second.State);

        var saved = new List<SnapshotTableProgress>();
        // The second range's reader is acknowledged first: the first's older record must not follow it.
        Assert.True(await job.SaveInOrderAsync(secondVersion, () => { saved.Add(second); return Task.CompletedTask; }, CancellationToken.None));
        Assert.False(await job.SaveInOrderAsync(firstVersion, () => { saved.Add(first); return Task.CompletedTask; }, CancellationToken.None));

        Assert.Equal([second], saved);
    }
}
