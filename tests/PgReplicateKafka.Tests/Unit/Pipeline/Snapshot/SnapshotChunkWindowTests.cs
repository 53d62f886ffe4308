using System.Text;
using PgReplicateKafka.Events;
using PgReplicateKafka.Events.Values;
using PgReplicateKafka.Pipeline.Snapshot;

namespace PgReplicateKafka.Tests.Unit.Pipeline.Snapshot;

public class SnapshotChunkWindowTests
{
    private static readonly PgType Text = TypeCatalog.Builtin.Resolve(25);

    // users (id, region, name): the message key is (id, region), a composite one.
    private static readonly TableInfo Users = Table(1, "users", ["id", "region", "name"], [0, 1]);
    private static readonly TableInfo Orders = Table(2, "orders", ["id", "region", "name"], [0, 1]);
    private static readonly SourceTransaction Transaction = new(7, DateTime.UtcNow);

    [Fact]
    public void Rows_untouched_in_the_window_are_all_emitted_in_chunk_order()
    {
        var window = new ChunkWindow(Users);
        var emitted = window.Close(Chunk("1", "2", "3"));
        Assert.Equal(["1", "2", "3"], Ids(emitted));
        Assert.Equal(0, window.Dropped);
    }

    [Fact]
    public void Inserts_updates_and_deletes_of_chunk_keys_in_the_window_drop_those_rows()
    {
        var window = new ChunkWindow(Users);
        window.Observe(Change(Users, ChangeOperation.Insert, before: null, after: Row("2", "eu", "new")));
        window.Observe(Change(Users, ChangeOperation.Update, before: null, after: Row("4", "eu", "changed")));
        window.Observe(Change(Users, ChangeOperation.Delete, before: Row("5", "eu", null), after: null));

        var emitted = window.Close(Chunk("1", "2", "3", "4", "5", "6"));

        Assert.Equal(["1", "3", "6"], Ids(emitted));
        Assert.Equal(3, window.Dropped);
        Assert.Equal(3, window.ChangedKeys);
    }

    [Fact]
    public void Every_key_column_counts_and_values_are_not_confused_across_column_boundaries()
    {
        var window = new ChunkWindow(Users);
        // (id "1", region "eu") was changed; (id "1e", region "u") and (id "1", region "EU") were not.
        window.Observe(Change(Users, ChangeOperation.Update, before: null, after: Row("1", "eu", "x")));

        var emitted = window.Close([Row("1", "eu", "a"), Row("1e", "u", "b"), Row("1", "EU", "c")]);

        Assert.Equal(["1e", "1"], Ids(emitted));
        Assert.Equal("EU", Encoding.UTF8.GetString(emitted[1].Value(1)));
    }

    [Fact]
    public void Changes_to_other_tables_are_ignored()
    {
        var window = new ChunkWindow(Users);
        window.Observe(Change(Orders, ChangeOperation.Update, before: null, after: Row("1", "eu", "x")));
        window.Observe(Change(Orders, ChangeOperation.Truncate, before: null, after: null));

        Assert.Equal(["1", "2"], Ids(window.Close(Chunk("1", "2"))));
        Assert.False(window.Truncated);
    }

    [Fact]
    public void The_same_table_described_again_is_still_the_same_table()
    {
        var window = new ChunkWindow(Users);
        // A RELATION message after ALTER TABLE builds a new TableInfo with the same relation id; here a column was added.
        var altered = Table(1, "users", ["id", "region", "name", "added"], [0, 1]);
        window.Observe(Change(altered, ChangeOperation.Insert, before: null, after: Row("2", "eu", "x", "y")));

        Assert.Equal(["1"], Ids(window.Close(Chunk("1", "2"))));
    }

    [Fact]
    public void An_update_that_changes_the_key_drops_both_the_old_and_the_new_key()
    {
        var window = new ChunkWindow(Users);
        // pgoutput sends the old key as a tuple of the key columns only.
        window.Observe(Change(Users, ChangeOperation.Update, before: Row("2", "eu", null), after: Row("5", "eu", "moved")));

        Assert.Equal(["1", "3"], Ids(window.Close(Chunk("1", "2", "3", "5"))));
        Assert.Equal(2, window.ChangedKeys);
    }

    [Fact]
    public void An_unchanged_toasted_key_value_is_taken_from_the_old_row()
    {
        var window = new ChunkWindow(Users);
        var after = Row("3", null, "changed");
        after.SetUnchangedToast(1);
        window.Observe(Change(Users, ChangeOperation.Update, before: Row("3", "eu", "old"), after: after));

        Assert.Equal(["1"], Ids(window.Close(Chunk("1", "3"))));
        Assert.Equal(1, window.ChangedKeys);
    }

    [Fact]
    public void A_truncate_in_the_window_drops_the_whole_chunk()
    {
        var window = new ChunkWindow(Users);
        window.Observe(Change(Users, ChangeOperation.Truncate, before: null, after: null));

        Assert.Empty(window.Close(Chunk("1", "2")));
        Assert.True(window.Truncated);
        Assert.Equal(2, window.Dropped);
    }

    [Fact]
    public void Windows_in_sequence_see_only_their_own_changes_and_overlapping_windows_each_see_all()
    {
        var first = new ChunkWindow(Users);
        first.Observe(Change(Users, ChangeOperation.Update, before: null, after: Row("1", "eu", "x")));
        Assert.Equal(["2"], Ids(first.Close(Chunk("1", "2"))));

        // The next chunk's window opens at its own low watermark: the change to key 1 came before it.
        var second = new ChunkWindow(Users);
        var third = new ChunkWindow(Users); // a parallel reader's chunk of another key range, open at the same time
        foreach (var window in new[] { second, third })
            window.Observe(Change(Users, ChangeOperation.Delete, before: Row("3", "eu", null), after: null));

        Assert.Equal(["1", "4"], Ids(second.Close(Chunk("1", "3", "4"))));
        Assert.Equal(["7"], Ids(third.Close(Chunk("3", "7"))));
    }

    [Fact]
    public void A_table_without_a_message_key_is_refused()
    {
        var error = Assert.Throws<ArgumentException>(() => new ChunkWindow(Table(3, "nokey", ["a"], [])));
        Assert.Contains("public.nokey has no message key", error.Message);
    }

    private static TableInfo Table(uint id, string name, string[] columns, int[] key)
    {
        var infos = new ColumnInfo[columns.Length];
        for (var i = 0; i < columns.Length; i++)
            infos[i] = new ColumnInfo(columns[i], Text, Array.IndexOf(key, i) >= 0);
        return new TableInfo(id, "public", name, infos, identityIsFull: false, key);
    }

    private static ChangeEvent Change(TableInfo table, ChangeOperation operation, RowData? before, RowData? after) =>
        new(table, operation, 100, Transaction, before, after);

    private static List<RowData> Chunk(params string[] ids) => [.. ids.Select(id => Row(id, "eu", "row " + id))];

    private static RowData Row(params string?[] values)
    {
        var row = new RowData(values.Length, 64);
        for (var i = 0; i < values.Length; i++)
        {
            if (values[i] is { } value)
                Encoding.UTF8.GetBytes(value).CopyTo(row.ReserveText(i, Encoding.UTF8.GetByteCount(value)));
            else
                row.SetNull(i);
        }

        return row;
    }

    private static List<string> Ids(List<RowData> rows) => [.. rows.Select(r => Encoding.UTF8.GetString(r.Value(0)))];
}
