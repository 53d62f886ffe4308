using System.Buffers.Binary;
using System.Text;
using PgReplicateKafka.Events;
using PgReplicateKafka.Source.PgOutput;

namespace PgReplicateKafka.Tests.Unit.Source;

/// <summary>The pgoutput fields as the walsender writes them (big-endian, null-terminated names); streamed end to end by the integration tests.</summary>
public class PgOutputReaderTests
{
    [Fact]
    public void A_tuple_keeps_nulls_unchanged_toast_and_text_values_in_column_order()
    {
        var bytes = new Message().Int16(4).Byte('t').Text("42").Byte('n').Byte('u').Byte('t').Text("héllo").Build();
        var reader = new PgOutputReader(bytes, bytes.Length);

        var row = reader.ReadTuple();

        Assert.Equal(4, row.ColumnCount);
        Assert.Equal(ValueKind.Text, row.Kind(0));
        Assert.Equal("42", Encoding.UTF8.GetString(row.Value(0)));
        Assert.Equal(ValueKind.Null, row.Kind(1));
        Assert.Equal(ValueKind.UnchangedToast, row.Kind(2));
        Assert.Equal("héllo", Encoding.UTF8.GetString(row.Value(3)));
        Assert.Equal(0, reader.Remaining);
        row.Release();
    }

    [Fact]
    public void An_empty_text_value_is_not_a_null()
    {
        var bytes = new Message().Int16(1).Byte('t').Text("").Build();
        var row = new PgOutputReader(bytes, bytes.Length).ReadTuple();

        Assert.Equal(ValueKind.Text, row.Kind(0));
        Assert.Equal(0, row.Value(0).Length);
        row.Release();
    }

    [Fact]
    public void Values_are_copied_so_the_message_buffer_can_be_reused()
    {
        var bytes = new Message().Int16(1).Byte('t').Text("abc").Build();
        var row = new PgOutputReader(bytes, bytes.Length).ReadTuple();
        Array.Clear(bytes);

        Assert.Equal("abc", Encoding.UTF8.GetString(row.Value(0)));
        row.Release();
    }

    [Theory]
    [InlineData("a value longer than the message")]
    [InlineData("a binary value")]
    [InlineData("a missing column")]
    public void A_malformed_tuple_fails_with_what_was_wrong(string malformation)
    {
        var bytes = malformation switch
        {
            "a value longer than the message" => new Message().Int16(1).Byte('t').Int32(100).Build(),
            "a binary value" => new Message().Int16(1).Byte('b').Text("x").Build(),
            _ => new Message().Int16(2).Byte('n').Build(),
        };

        var e = Assert.Throws<InvalidOperationException>(() => new PgOutputReader(bytes, bytes.Length).ReadTuple());
        Assert.StartsWith("pgoutput sent", e.Message);
    }

    [Fact]
    public void Only_the_given_length_of_the_buffer_is_the_message()
    {
        // A reused buffer holds the previous, longer message after this one's end.
        var bytes = new Message().Int16(1).Byte('t').Text("ab").Build();
        var buffer = new byte[bytes.Length + 16];
        bytes.CopyTo(buffer, 0);
        buffer.AsSpan(bytes.Length).Fill((byte)'x');
        var reader = new PgOutputReader(buffer, bytes.Length);

        reader.ReadTuple().Release();

        Assert.Equal(0, reader.Remaining);
        Assert.Throws<InvalidOperationException>(() => reader.ReadByte());
    }

    [Fact]
    public void A_relation_message_gives_names_types_modifiers_and_key_flags()
    {
        var bytes = new Message()
            .Int32(16385).CString("public").CString("Users ü").Byte('f').Int16(2)
            .Byte(1).CString("id").Int32(20).Int32(-1)
            .Byte(0).CString("score").Int32(1700).Int32((10 << 16) + 2 + 4)
            .Build();
        var reader = new PgOutputReader(bytes, bytes.Length);

        var relation = RelationDescription.Read(ref reader);

        Assert.Equal(16385u, relation.RelationId);
        Assert.Equal("public", relation.Namespace);
        Assert.Equal("Users ü", relation.Name);
        Assert.True(relation.IdentityIsFull);
        Assert.Equal(new RelationColumn("id", 20, -1, IsKey: true), relation.Columns[0]);
        Assert.Equal(new RelationColumn("score", 1700, (10 << 16) + 6, IsKey: false), relation.Columns[1]);
    }

    [Fact]
    public void A_string_without_its_terminator_is_malformed()
    {
        var bytes = Encoding.UTF8.GetBytes("public");
        var reader = new PgOutputReader(bytes, bytes.Length);

        Assert.Throws<InvalidOperationException>(() => reader.ReadString());
    }

    [Fact]
    public void Commit_timestamps_count_microseconds_from_2000()
    {
        var bytes = new Message().Int64(1_000_001).Build();

        var time = new PgOutputReader(bytes, bytes.Length).ReadTimestamp();

        Assert.Equal(new DateTime(2000, 1, 1, 0, 0, 1, DateTimeKind.Utc).AddTicks(10), time);
        Assert.Equal(DateTimeKind.Utc, time.Kind);
    }

    private sealed class Message
    {
        private readonly List<byte> _bytes = [];

        public Message Byte(char value) => Byte((byte)value);

        public Message Byte(byte value)
        {
            _bytes.Add(value);
            return this;
        }

        public Message Int16(short value) => Put(2, span => BinaryPrimitives.WriteInt16BigEndian(span, value));

        public Message Int32(int value) => Put(4, span => BinaryPrimitives.WriteInt32BigEndian(span, value));

        public Message Int64(long value) => Put(8, span => BinaryPrimitives.WriteInt64BigEndian(span, value));

        public Message Text(string value)
        {
            var bytes = Encoding.UTF8.GetBytes(value);
            Int32(bytes.Length);
            _bytes.AddRange(bytes);
            return this;
        }

        public Message CString(string value)
        {
            _bytes.AddRange(Encoding.UTF8.GetBytes(value));
            _bytes.Add(0);
            return this;
        }

        public byte[] Build() => [.. _bytes];

        private Message Put(int size, SpanAction write)
        {
            var span = new byte[size];
            write(span);
            _bytes.AddRange(span);
            return this;
        }

        private delegate void SpanAction(Span<byte> span);
    }
}
