using System.Text;
using PgReplicateKafka.Source.Snapshot;

namespace PgReplicateKafka.Tests.Unit.Source.Snapshot;

public class SnapshotWatermarkMessageTests
{
    [Fact]
    public void Watermarks_and_requests_encode_as_documented_json_and_parse_back()
    {
        SnapshotControlMessage[] messages =
        [
            new Watermark(WatermarkKind.Low, "s-1", "public.users", 3),
            new Watermark(WatermarkKind.High, "s-1", "public.users", 3),
            new SnapshotRequest("public.users", "id < 100 AND note = 'a \"b\"'"),
            new SnapshotRequest("sales.orders", null),
        ];

        Assert.Equal("""{"kind":"low","snapshot":"s-1","table":"public.users","chunk":3}""", Encoding.UTF8.GetString(Watermarks.Encode(messages[0])));
        Assert.Equal("""{"kind":"request","table":"sales.orders","where":null}""", Encoding.UTF8.GetString(Watermarks.Encode(messages[3])));
        foreach (var message in messages)
            Assert.Equal(message, Watermarks.Parse(Watermarks.Encode(message)));
    }

    [Fact]
    public void A_request_written_by_hand_without_where_parses()
    {
        Assert.Equal(new SnapshotRequest("public.t", null), Watermarks.Parse("""{"table":"public.t","kind":"request"}"""u8));
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("""{"kind":"middle","table":"t"}""")]
    [InlineData("""{"kind":"low","table":"t","chunk":1}""")]
    [InlineData("""{"kind":"high","snapshot":"s","table":"t","chunk":"one"}""")]
    [InlineData("""{"kind":"request","table":null}""")]
    public void Content_this_product_did_not_write_is_a_format_error(string content) =>
        Assert.Throws<FormatException>(() => Watermarks.Parse(Encoding.UTF8.GetBytes(content)));
}
