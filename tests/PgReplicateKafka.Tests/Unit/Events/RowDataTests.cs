using System.Text;
using PgReplicateKafka.Events;

namespace PgReplicateKafka.Tests.Unit.Events;

/// <summary>A row's kinds and values, packed into one rented array of slots and one buffer.</summary>
public class RowDataTests
{
    [Fact]
    public void Each_column_keeps_its_kind_and_value_while_the_buffer_grows()
    {
        var row = new RowData(5, expectedBytes: 4);
        Set(row, 0, "first");
        row.SetNull(1);
        row.SetUnchangedToast(2);
        Set(row, 3, "");
        Set(row, 4, new string('x', 1000)); // past the first buffer: moved into a bigger one

        Assert.Equal([ValueKind.Text, ValueKind.Null, ValueKind.UnchangedToast, ValueKind.Text, ValueKind.Text], Enumerable.Range(0, 5).Select(row.Kind));
        Assert.Equal("first", Encoding.UTF8.GetString(row.Value(0)));
        Assert.True(row.Value(1).IsEmpty);
        Assert.True(row.Value(2).IsEmpty);
        Assert.Equal("", Encoding.UTF8.GetString(row.Value(3)));
        Assert.Equal(new string('x', 1000), Encoding.UTF8.GetString(row.Value(4)));
        Assert.Equal(1005, row.ByteSize);
        row.Release();
    }

    [Fact]
    public void A_column_set_again_takes_its_new_kind()
    {
        var row = new RowData(1, expectedBytes: 16);
        Set(row, 0, "v");
        row.SetNull(0);
        Assert.Equal(ValueKind.Null, row.Kind(0));
        row.SetUnchangedToast(0);
        Assert.Equal(ValueKind.UnchangedToast, row.Kind(0));
        row.Release();
    }

    private static void Set(RowData row, int column, string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        bytes.CopyTo(row.ReserveText(column, bytes.Length).Span);
    }
}
