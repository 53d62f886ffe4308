using PgReplicateKafka.Events.Values;
using static PgReplicateKafka.Tests.Unit.Events.ValuesWriterTests;

namespace PgReplicateKafka.Tests.Unit.Events;

// Array and hstore literals as PostgreSQL 15 prints them, checked against a real server.
public class ValuesStructuredTests
{
    private static readonly PgType Hstore = new(16_384, "hstore", PgTypeKind.Hstore, schema: "public");

    private static string Array(uint oid, string text, FormatOptions options = default) => Json(TypeCatalog.Builtin.Resolve(oid), text, options);

    [Theory]
    [InlineData(1007, "{1,2}", "[1,2]")]
    [InlineData(1007, "{{1,2},{3,4}}", "[[1,2],[3,4]]")]
    [InlineData(1007, "{{{1},{2}},{{3},{4}}}", "[[[1],[2]],[[3],[4]]]")]
    [InlineData(1007, "{}", "[]")]
    [InlineData(1007, "[0:1]={7,8}", "[7,8]")]
    [InlineData(1007, "[1:2][3:4]={{1,2},{3,4}}", "[[1,2],[3,4]]")]
    [InlineData(1007, "{1,NULL,3}", "[1,null,3]")]
    [InlineData(1016, "{-9223372036854775808,9223372036854775807}", "[-9223372036854775808,9223372036854775807]")]
    [InlineData(1000, "{t,f,NULL}", "[true,false,null]")]
    [InlineData(1022, "{0.1,NaN,-Infinity,1e-300}", "[0.1,\"NaN\",\"-Infinity\",1e-300]")]
    [InlineData(1231, "{1.50,NULL,NaN}", "[\"1.50\",null,\"NaN\"]")]
    [InlineData(1009, "{\"a,b\",\"{x}\",\"q\\\"\\\\\",\"NULL\",NULL,\"\",\" s \"}", "[\"a,b\",\"{x}\",\"q\\u0022\\\\\",\"NULL\",null,\"\",\" s \"]")]
    [InlineData(1009, "{null,Null}", "[null,null]")]
    [InlineData(1009, "{ a , b c }", "[\"a\",\"b c\"]")]
    [InlineData(1009, "{a\\,b}", "[\"a,b\"]")]
    [InlineData(1014, "{\"a  \"}", "[\"a  \"]")]
    [InlineData(1009, "{😀,\"é\"}", "[\"\\uD83D\\uDE00\",\"\\u00E9\"]")]
    [InlineData(1185, "{\"2023-10-15 05:00:00.5+00\",infinity,\"0044-03-15 12:00:00+00 BC\"}", "[\"2023-10-15T05:00:00.5Z\",\"infinity\",\"0044-03-15T12:00:00Z BC\"]")]
    [InlineData(1115, "{\"2020-01-01 00:00:00\"}", "[\"2020-01-01T00:00:00\"]")]
    [InlineData(3807, "{\"{\\\"a\\\": [1, {\\\"b\\\": \\\"x,y\\\"}]}\",\"null\",\"\\\"s\\\"\",NULL}", "[{\"a\": [1, {\"b\": \"x,y\"}]},null,\"s\",null]")]
    [InlineData(199, "{\"{\\\"a\\\":1}\"}", "[{\"a\":1}]")]
    [InlineData(1001, "{\"\\\\x00ff\"}", "[\"AP8=\"]")]
    [InlineData(1020, "{(1,1),(0,0);(2,2),(1,1)}", "[\"(1,1),(0,0)\",\"(2,2),(1,1)\"]")]
    [InlineData(1270, "{10:30:00-08}", "[\"10:30:00-08:00\"]")]
    public void Arrays(uint oid, string text, string expected) => Assert.Equal(expected, Array(oid, text));

    [Fact]
    public void ArrayElementsFollowTheOptions()
    {
        var options = new FormatOptions(NumericAsNumber: true, JsonAsString: true, BinaryAsHex: true);
        Assert.Equal("[1.50,\"NaN\"]", Array(1231, "{1.50,NaN}", options));
        Assert.Equal("[\"{\\u0022a\\u0022:1}\"]", Array(3807, "{\"{\\\"a\\\":1}\"}", options));
        Assert.Equal("[\"00ff\"]", Array(1001, "{\"\\\\x00ff\"}", options));
    }

    [Fact]
    public void ArrayOfHstore()
    {
        var array = new PgType(16_390, "_hstore", PgTypeKind.Array, Hstore);
        Assert.Equal("[{\"a\":\"1\"},null]", Json(array, "{\"\\\"a\\\"=>\\\"1\\\"\",NULL}"));
    }

    [Theory]
    [InlineData("{1,2")]
    [InlineData("1,2}")]
    [InlineData("{1,2}x")]
    [InlineData("[0:1]{1,2}")]
    [InlineData("{\"a}")]
    public void MalformedArrayThrows(string text) => Assert.Throws<FormatException>(() => Array(1009, text));

    [Theory]
    [InlineData("\"a\"=>\"1\", \"b c\"=>NULL, \"q\\\"x\"=>\"back\\\\slash\"", "{\"a\":\"1\",\"b c\":null,\"q\\u0022x\":\"back\\\\slash\"}")]
    [InlineData("", "{}")]
    [InlineData("\"k\"=>\"\"", "{\"k\":\"\"}")]
    [InlineData("\"NULL\"=>\"NULL\"", "{\"NULL\":\"NULL\"}")]
    [InlineData("\"a,b\"=>\"x=>y\"", "{\"a,b\":\"x=\\u003Ey\"}")]
    public void HstoreIsAnObject(string text, string expected) => Assert.Equal(expected, Json(Hstore, text));

    [Theory]
    [InlineData("a=>1")]
    [InlineData("\"a\"=\"1\"")]
    [InlineData("\"a\"=>1")]
    [InlineData("\"a\"=>\"1\" \"b\"=>\"2\"")]
    [InlineData("\"a\"=>")]
    public void MalformedHstoreThrows(string text) => Assert.Throws<FormatException>(() => Json(Hstore, text));
}
