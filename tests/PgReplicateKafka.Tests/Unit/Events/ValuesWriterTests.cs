using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using PgReplicateKafka.Events.Values;

namespace PgReplicateKafka.Tests.Unit.Events;

// Inputs are PostgreSQL 15 text output under PgSessionSettings.Options, checked against a real server.
public class ValuesWriterTests
{
    private static readonly FormatOptions Defaults = default;

    internal static string Json(PgType type, string text, FormatOptions options = default, JavaScriptEncoder? encoder = null)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = encoder }))
        {
            ValueWriter.Write(writer, type, Encoding.UTF8.GetBytes(text), options);
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static string Json(uint oid, string text, FormatOptions options = default) => Json(TypeCatalog.Builtin.Resolve(oid), text, options);

    [Theory]
    [InlineData("t", "true")]
    [InlineData("f", "false")]
    public void Bool(string text, string expected) => Assert.Equal(expected, Json(16, text));

    [Theory]
    [InlineData(20, "-9223372036854775808", "-9223372036854775808")]
    [InlineData(20, "9223372036854775807", "9223372036854775807")]
    [InlineData(21, "-32768", "-32768")]
    [InlineData(23, "2147483647", "2147483647")]
    [InlineData(26, "4294967295", "4294967295")]
    [InlineData(28, "742", "742")]
    public void IntegersAreExactNumbers(uint oid, string text, string expected) => Assert.Equal(expected, Json(oid, text));

    [Theory]
    [InlineData(701, "0.1", "0.1")]
    [InlineData(700, "0.1", "0.1")]
    [InlineData(701, "1e-300", "1e-300")]
    [InlineData(701, "1.5e+300", "1.5e+300")]
    [InlineData(700, "1.2345679e+11", "1.2345679e+11")]
    [InlineData(701, "-0", "-0")]
    [InlineData(701, "NaN", "\"NaN\"")]
    [InlineData(701, "Infinity", "\"Infinity\"")]
    [InlineData(700, "-Infinity", "\"-Infinity\"")]
    public void Floats(uint oid, string text, string expected) => Assert.Equal(expected, Json(oid, text));

    [Fact]
    public void FloatNumbersRoundTrip()
    {
        Assert.Equal(0.1, JsonDocument.Parse(Json(701, "0.1")).RootElement.GetDouble());
        Assert.Equal(1e-300, JsonDocument.Parse(Json(701, "1e-300")).RootElement.GetDouble());
    }

    [Theory]
    [InlineData("12.30", "\"12.30\"", "12.30")]
    [InlineData("1234567890123456789012345678901234567890", "\"1234567890123456789012345678901234567890\"", "1234567890123456789012345678901234567890")]
    [InlineData("-0.00000000000000000001", "\"-0.00000000000000000001\"", "-0.00000000000000000001")]
    [InlineData("NaN", "\"NaN\"", "\"NaN\"")]
    [InlineData("Infinity", "\"Infinity\"", "\"Infinity\"")]
    [InlineData("-Infinity", "\"-Infinity\"", "\"-Infinity\"")]
    public void Numeric(string text, string asString, string asNumber)
    {
        Assert.Equal(asString, Json(1700, text));
        Assert.Equal(asNumber, Json(1700, text, new FormatOptions(NumericAsNumber: true)));
    }

    [Fact]
    public void NumericAsNumberIsValidJson() =>
        Assert.Equal(JsonValueKind.Number, JsonDocument.Parse(Json(1700, "-12.30", new FormatOptions(NumericAsNumber: true))).RootElement.ValueKind);

    [Theory]
    [InlineData(790, "$12.50", "\"$12.50\"")]
    [InlineData(790, "-$3.00", "\"-$3.00\"")]
    [InlineData(2950, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\"")]
    [InlineData(1042, "abc   ", "\"abc   \"")]
    [InlineData(25, "", "\"\"")]
    [InlineData(19, "pg_type", "\"pg_type\"")]
    [InlineData(18, "x", "\"x\"")]
    [InlineData(1043, "say \"hi\" \\ back", "\"say \\u0022hi\\u0022 \\\\ back\"")]
    [InlineData(25, "tab\tnl\nnul\u0000bell\u0007", "\"tab\\tnl\\nnul\\u0000bell\\u0007\"")]
    [InlineData(25, "emoji 😀", "\"emoji \\uD83D\\uDE00\"")]
    [InlineData(1082, "2023-10-15", "\"2023-10-15\"")]
    [InlineData(1082, "0044-03-15 BC", "\"0044-03-15 BC\"")]
    [InlineData(1082, "infinity", "\"infinity\"")]
    [InlineData(1082, "-infinity", "\"-infinity\"")]
    [InlineData(1083, "10:30:00", "\"10:30:00\"")]
    [InlineData(1083, "24:00:00", "\"24:00:00\"")]
    [InlineData(1083, "10:30:00.123456", "\"10:30:00.123456\"")]
    [InlineData(1186, "P1Y2M3DT4H5M6.5S", "\"P1Y2M3DT4H5M6.5S\"")]
    [InlineData(1186, "P-10MT-3S", "\"P-10MT-3S\"")]
    [InlineData(1186, "PT0S", "\"PT0S\"")]
    [InlineData(869, "192.168.0.1/24", "\"192.168.0.1/24\"")]
    [InlineData(3220, "0/16B3748", "\"0/16B3748\"")]
    [InlineData(142, "<a>x</a>", "\"\\u003Ca\\u003Ex\\u003C/a\\u003E\"")]
    [InlineData(3904, "[1,5)", "\"[1,5)\"")]
    public void StringsAsPrinted(uint oid, string text, string expected) => Assert.Equal(expected, Json(oid, text));

    [Fact]
    public void StringEscapingFollowsTheWritersEncoder() =>
        Assert.Equal("\"emoji \\uD83D\\uDE00 \\\"q\\\" <b>\"", Json(TypeCatalog.Builtin.Resolve(25), "emoji 😀 \"q\" <b>", encoder: JavaScriptEncoder.UnsafeRelaxedJsonEscaping));

    [Fact]
    public void EmojiRoundTrips() => Assert.Equal("emoji 😀", JsonDocument.Parse(Json(25, "emoji 😀")).RootElement.GetString());

    [Theory]
    [InlineData(3802, "{\"a\": [1, {\"b\": null}], \"c\": \"x\"}")]
    [InlineData(114, "{\"a\":1,  \"a\":2}")]
    [InlineData(3802, "\"s\"")]
    [InlineData(3802, "null")]
    [InlineData(3802, "1.5e300")]
    public void JsonIsEmbedded(uint oid, string text) => Assert.Equal(text, Json(oid, text));

    [Fact]
    public void JsonAsStringQuotesTheDocument() =>
        Assert.Equal("\"{\\u0022a\\u0022: [1, {\\u0022b\\u0022: null}]}\"", Json(3802, "{\"a\": [1, {\"b\": null}]}", new FormatOptions(JsonAsString: true)));

    [Fact]
    public void JsonDeeperThanTheWriterValidatorLimitIsEmbedded()
    {
        var deep = new string('[', 100) + new string(']', 100);
        Assert.Equal(deep, Json(3802, deep));
    }

    [Theory]
    [InlineData("\\x0001ff", "\"AAH/\"", "\"0001ff\"")]
    [InlineData("\\x", "\"\"", "\"\"")]
    [InlineData("\\xff00", "\"/wA=\"", "\"ff00\"")]
    public void Bytea(string text, string base64, string hex)
    {
        Assert.Equal(base64, Json(17, text));
        Assert.Equal(hex, Json(17, text, new FormatOptions(BinaryAsHex: true)));
    }

    [Fact]
    public void ByteaLargerThanTheStackBufferIsBase64()
    {
        var bytes = new byte[1000];
        new Random(7).NextBytes(bytes);
        var text = "\\x" + Convert.ToHexStringLower(bytes);
        Assert.Equal("\"" + Convert.ToBase64String(bytes) + "\"", Json(17, text));
    }

    [Fact]
    public void ByteaNotInHexFormatIsWrittenAsPrinted() => Assert.Equal("\"ab\\\\000\"", Json(17, "ab\\000"));

    [Theory]
    [InlineData("2023-10-15 10:30:00", "\"2023-10-15T10:30:00\"")]
    [InlineData("2023-10-15 10:30:00.5", "\"2023-10-15T10:30:00.5\"")]
    [InlineData("2023-10-15 10:30:00.000001", "\"2023-10-15T10:30:00.000001\"")]
    [InlineData("0044-03-15 12:00:01.25 BC", "\"0044-03-15T12:00:01.25 BC\"")]
    [InlineData("10000-01-01 00:00:00", "\"10000-01-01T00:00:00\"")]
    [InlineData("infinity", "\"infinity\"")]
    [InlineData("-infinity", "\"-infinity\"")]
    public void Timestamp(string text, string expected) => Assert.Equal(expected, Json(1114, text));

    [Theory]
    [InlineData("2023-10-15 10:30:00+00", "\"2023-10-15T10:30:00Z\"")]
    [InlineData("2023-10-15 05:00:00.5+00", "\"2023-10-15T05:00:00.5Z\"")]
    [InlineData("0044-03-15 12:00:00+00 BC", "\"0044-03-15T12:00:00Z BC\"")]
    [InlineData("2023-10-15 16:00:00.5+05:30", "\"2023-10-15T10:30:00.5Z\"")]
    [InlineData("2023-10-15 08:00:00.5-02:30", "\"2023-10-15T10:30:00.5Z\"")]
    [InlineData("1800-01-01 05:53:28+05:53:28", "\"1800-01-01T00:00:00Z\"")]
    [InlineData("1799-12-31 20:29:08-03:30:52", "\"1800-01-01T00:00:00Z\"")]
    [InlineData("2024-03-01 01:00:00+02", "\"2024-02-29T23:00:00Z\"")]
    [InlineData("2023-03-01 01:00:00+02", "\"2023-02-28T23:00:00Z\"")]
    [InlineData("2023-12-31 23:00:00-02", "\"2024-01-01T01:00:00Z\"")]
    [InlineData("0001-01-01 01:00:00+02", "\"0001-12-31T23:00:00Z BC\"")]
    [InlineData("0001-12-31 23:00:00-02 BC", "\"0001-01-01T01:00:00Z\"")]
    [InlineData("0005-03-01 01:00:00+02 BC", "\"0005-02-29T23:00:00Z BC\"")]
    [InlineData("infinity", "\"infinity\"")]
    [InlineData("-infinity", "\"-infinity\"")]
    public void TimestampTzIsUtc(string text, string expected) => Assert.Equal(expected, Json(1184, text));

    [Theory]
    [InlineData("10:30:00+05:30", "\"10:30:00\\u002B05:30\"")]
    [InlineData("10:30:00.123-08", "\"10:30:00.123-08:00\"")]
    [InlineData("10:30:00+00", "\"10:30:00\\u002B00:00\"")]
    [InlineData("10:30:00+05:30:15", "\"10:30:00\\u002B05:30:15\"")]
    public void TimeTz(string text, string expected) => Assert.Equal(expected, Json(1266, text));

    [Fact]
    public void UnknownOidIsWrittenAsPrinted()
    {
        Assert.Same(PgType.Unknown, TypeCatalog.Builtin.Resolve(999_999));
        Assert.Equal("\"(1,2)\"", Json(999_999, "(1,2)"));
    }

    [Fact]
    public void OptionsDoNotChangeOtherTypes() =>
        Assert.Equal("1", Json(23, "1", Defaults with { NumericAsNumber = true, JsonAsString = true, BinaryAsHex = true }));
}
