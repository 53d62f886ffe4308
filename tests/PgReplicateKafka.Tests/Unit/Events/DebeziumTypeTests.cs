using PgReplicateKafka.Events;
using PgReplicateKafka.Events.Debezium;
using PgReplicateKafka.Events.Values;
using static PgReplicateKafka.Tests.Unit.Events.DebeziumTestSupport;

namespace PgReplicateKafka.Tests.Unit.Events;

// One test per type family, after the "Data type mappings" tables of Debezium's PostgreSQL connector documentation
// (postgresql.adoc: Basic types, Temporal types, TIMESTAMP type, Decimal types, HSTORE type, Network address types).
// Values are PostgreSQL text output under PgSessionSettings; expected numbers are worked out by hand from the
// rules those tables state (and Debezium's converters where the table is silent).
public class DebeziumTypeTests
{
    private static readonly DebeziumOptions Str = Options with { DecimalHandling = DecimalHandling.String };
    private static readonly DebeziumOptions Dbl = Options with { DecimalHandling = DecimalHandling.Double };
    private static readonly DebeziumOptions Connect = Options with { TimePrecision = TimePrecision.Connect };

    // numeric(p,s) type modifier as pg_attribute stores it (the scale in 11 bits, negative from PostgreSQL 15).
    private static int Numeric(int precision, int scale) => ((precision << 16) | (scale & 0x7FF)) + 4;

    private static void AssertField(string schema, string value, ColumnInfo column, string? text, DebeziumOptions? options = null)
    {
        var (actualSchema, actualValue) = SingleSchemaAndValue(column, text, options);
        AssertJson(schema, actualSchema);
        AssertJson(value, actualValue);
    }

    // Basic types: SMALLINT INT16, INTEGER INT32, BIGINT and OID INT64, REAL FLOAT32, DOUBLE PRECISION FLOAT64.
    [Fact]
    public void Integers()
    {
        AssertField("""{"type":"int16","optional":true,"field":"c"}""", "-32768", Column("c", 21), "-32768");
        AssertField("""{"type":"int32","optional":true,"field":"c"}""", "2147483647", Column("c", 23), "2147483647");
        AssertField("""{"type":"int64","optional":true,"field":"c"}""", "-9223372036854775808", Column("c", 20), "-9223372036854775808");
        AssertField("""{"type":"int64","optional":true,"field":"c"}""", "4294967295", Column("c", 26), "4294967295");
        AssertField("""{"type":"float","optional":true,"field":"c"}""", "1.5", Column("c", 700), "1.5");
        AssertField("""{"type":"double","optional":true,"field":"c"}""", "\"NaN\"", Column("c", 701), "NaN");
        Assert.Null(Single(Column("c", 23), null));
    }

    // Decimal types, decimal.handling.mode=precise: Connect Decimal with scale and precision parameters;
    // numeric without a scale as io.debezium.data.VariableScaleDecimal; money as Decimal with scale 2.
    [Fact]
    public void NumericPrecise()
    {
        // -123456 is FE 1D C0 in two's complement.
        AssertField("""
            {"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,
             "parameters":{"scale":"2","connect.decimal.precision":"10"},"field":"c"}
            """, "\"/h3A\"", Column("c", 1700, Numeric(10, 2)), "-1234.56");
        AssertJson("\"AeJA\"", Single(Column("c", 1700, Numeric(10, 2)), "1234.56"));

        // PostgreSQL 15 scales outside 0..p: numeric(5,-2) holds up to 7 integer digits (12300 is 30 0C);
        // numeric(3,5) prints 5 fraction digits (0.00123 is 123 at scale 5).
        AssertField("""
            {"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,
             "parameters":{"scale":"0","connect.decimal.precision":"7"},"field":"c"}
            """, "\"MAw=\"", Column("c", 1700, Numeric(5, -2)), "12300");
        AssertField("""
            {"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,
             "parameters":{"scale":"5","connect.decimal.precision":"3"},"field":"c"}
            """, "\"ew==\"", Column("c", 1700, Numeric(3, 5)), "0.00123");

        // Trailing zeros go: 1.500 is 15 at scale 1.
        AssertField("""
            {"type":"struct","fields":[{"type":"int32","optional":false,"field":"scale"},{"type":"bytes","optional":false,"field":"value"}],
             "optional":true,"name":"io.debezium.data.VariableScaleDecimal","version":1,"doc":"Variable scaled decimal","field":"c"}
            """, """{"scale":1,"value":"Dw=="}""", Column("c", 1700), "1.500");
        AssertJson("""{"scale":0,"value":"/WK9SbGJjr27NQ=="}""", Single(Column("c", 1700), "-12345678901234567890123"));
        AssertJson("""{"scale":0,"value":"AA=="}""", Single(Column("c", 1700), "0.000"));

        AssertField("""
            {"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2"},"field":"c"}
            """, "\"/h3A\"", Column("c", 790), "-$1,234.56");
    }

    // decimal.handling.mode=string: the plain decimal text, NaN included.
    [Fact]
    public void NumericString()
    {
        AssertField("""{"type":"string","optional":true,"field":"c"}""", "\"-1234.56\"", Column("c", 1700, Numeric(10, 2)), "-1234.56", Str);
        AssertJson("\"1.500\"", Single(Column("c", 1700), "1.500", Str));
        AssertJson("\"NaN\"", Single(Column("c", 1700), "NaN", Str));
        AssertJson("\"-1234.56\"", Single(Column("c", 790), "-$1,234.56", Str));
    }

    // decimal.handling.mode=double: FLOAT64.
    [Fact]
    public void NumericDouble()
    {
        AssertField("""{"type":"double","optional":true,"field":"c"}""", "-1234.56", Column("c", 1700, Numeric(10, 2)), "-1234.56", Dbl);
        AssertJson("0.1", Single(Column("c", 1700), "0.1000000000000000000001", Dbl));
        AssertJson("\"NaN\"", Single(Column("c", 1700), "NaN", Dbl));
        AssertJson("1234.56", Single(Column("c", 790), "$1,234.56", Dbl));
    }

    // Temporal types, time.precision.mode=adaptive, and the TIMESTAMP type section's example
    // ("2018-06-20 15:13:16.945104" is 1529507596945104) and infinity values.
    [Fact]
    public void TemporalAdaptive()
    {
        AssertField("""{"type":"int32","optional":true,"name":"io.debezium.time.Date","version":1,"field":"c"}""", "17702", Column("c", 1082), "2018-06-20");
        AssertJson("-719528", Single(Column("c", 1082), "0001-01-01 BC")); // astronomical year 0
        AssertField("""{"type":"int64","optional":true,"name":"io.debezium.time.MicroTime","version":1,"field":"c"}""", "54796945104", Column("c", 1083), "15:13:16.945104");
        AssertField("""{"type":"int32","optional":true,"name":"io.debezium.time.Time","version":1,"field":"c"}""", "54796945", Column("c", 1083, 3), "15:13:16.945");
        AssertJson("86400000000", Single(Column("c", 1083), "24:00:00"));
        AssertField("""{"type":"int64","optional":true,"name":"io.debezium.time.MicroTimestamp","version":1,"field":"c"}""",
            "1529507596945104", Column("c", 1114), "2018-06-20 15:13:16.945104");
        AssertField("""{"type":"int64","optional":true,"name":"io.debezium.time.Timestamp","version":1,"field":"c"}""",
            "1529507596945", Column("c", 1114, 3), "2018-06-20 15:13:16.945");
        AssertJson("9223372036825200000", Single(Column("c", 1114), "infinity"));
        AssertJson("-9223372036832400000", Single(Column("c", 1114), "-infinity"));

        // ZonedTimestamp prints the column's fractional digits: six without a modifier, as few as needed for precision 0.
        AssertField("""{"type":"string","optional":true,"name":"io.debezium.time.ZonedTimestamp","version":1,"field":"c"}""",
            "\"2018-06-20T13:13:16.945104Z\"", Column("c", 1184), "2018-06-20 13:13:16.945104+00");
        AssertJson("\"2018-06-20T13:13:16.000000Z\"", Single(Column("c", 1184), "2018-06-20 13:13:16+00"));
        AssertJson("\"2018-06-20T13:13:16.900Z\"", Single(Column("c", 1184, 3), "2018-06-20 13:13:16.9+00"));
        AssertJson("\"2018-06-21T01:13:16Z\"", Single(Column("c", 1184, 0), "2018-06-20 20:13:16-05"));
        AssertJson("\"infinity\"", Single(Column("c", 1184), "infinity"));
        AssertField("""{"type":"string","optional":true,"name":"io.debezium.time.ZonedTime","version":1,"field":"c"}""",
            "\"18:30:00.5Z\"", Column("c", 1266), "10:30:00.5-08");

        // PostgreSQL's last timestamp, 294276-12-31, is past int64 microseconds (they end in 294247): the zoned string is
        // exact (java.time puts + before years over 9999), MicroTimestamp saturates, milliseconds still fit.
        AssertJson("\"+294276-12-31T23:59:59.999999Z\"", Single(Column("c", 1184), "294276-12-31 23:59:59.999999+00"));
        AssertJson("9223372036854775807", Single(Column("c", 1114), "294276-12-31 23:59:59.999999"));
        AssertJson("9224318015999999", Single(Column("c", 1114, 3), "294276-12-31 23:59:59.999"));

        // An interval's time part goes past int32 hours.
        AssertJson("9223372036800000000", Single(Column("c", 1186), "PT2562047788H"));
    }

    // Temporal types, time.precision.mode=connect: Kafka Connect's logical types in milliseconds
    // (Connect's Time is INT32, although the doc's table says INT64).
    [Fact]
    public void TemporalConnect()
    {
        AssertField("""{"type":"int32","optional":true,"name":"org.apache.kafka.connect.data.Date","version":1,"field":"c"}""", "17702", Column("c", 1082), "2018-06-20", Connect);
        AssertField("""{"type":"int32","optional":true,"name":"org.apache.kafka.connect.data.Time","version":1,"field":"c"}""", "54796945", Column("c", 1083), "15:13:16.945104", Connect);
        AssertField("""{"type":"int64","optional":true,"name":"org.apache.kafka.connect.data.Timestamp","version":1,"field":"c"}""",
            "1529507596945", Column("c", 1114), "2018-06-20 15:13:16.945104", Connect);
        AssertJson("-1", Single(Column("c", 1114), "1969-12-31 23:59:59.999001", Connect)); // floor, not truncation
    }

    // Basic types: INTERVAL as io.debezium.time.MicroDuration with 365.25/12 days a month:
    // (14 months * 30.4375 + 3 days) * 86400 + 4 h + 5 min + 6.78 s = 37091106.78 s.
    [Fact]
    public void Interval()
    {
        AssertField("""{"type":"int64","optional":true,"name":"io.debezium.time.MicroDuration","version":1,"field":"c"}""",
            "37091106780000", Column("c", 1186), "P1Y2M3DT4H5M6.78S");
        AssertJson("-3600000000", Single(Column("c", 1186), "PT-1H"));
        AssertJson("0", Single(Column("c", 1186), "PT0S"));
        AssertJson("2629800000000", Single(Column("c", 1186), "P1M"));
    }

    // Basic types: character types as STRING; UUID, JSON/JSONB and XML as strings with their semantic names.
    [Fact]
    public void TextUuidJson()
    {
        AssertField("""{"type":"string","optional":true,"field":"c"}""", "\"é \\\"q\\\"\"", Column("c", 25), "é \"q\"");
        AssertField("""{"type":"string","optional":true,"name":"io.debezium.data.Uuid","version":1,"field":"c"}""",
            "\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\"", Column("c", 2950), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
        AssertField("""{"type":"string","optional":true,"name":"io.debezium.data.Json","version":1,"field":"c"}""",
            "\"{\\\"a\\\": [1, 2]}\"", Column("c", 3802), "{\"a\": [1, 2]}");
        AssertField("""{"type":"string","optional":true,"name":"io.debezium.data.Xml","version":1,"field":"c"}""", "\"<a/>\"", Column("c", 142), "<a/>");

        // HSTORE type: hstore.handling.mode=json, a JSON document in a string.
        var hstore = new PgType(16_384, "hstore", PgTypeKind.Hstore, schema: "public");
        AssertField("""{"type":"string","optional":true,"name":"io.debezium.data.Json","version":1,"field":"c"}""",
            "\"{\\\"k\\\":\\\"v\\\",\\\"n\\\":null}\"", Column("c", hstore), "\"k\"=>\"v\", \"n\"=>NULL");
        var ltree = new PgType(16_500, "ltree", PgTypeKind.String, schema: "public");
        AssertField("""{"type":"string","optional":true,"name":"io.debezium.data.Ltree","version":1,"field":"c"}""", "\"a.b\"", Column("c", ltree), "a.b");
    }

    // Basic types: BYTEA as BYTES (binary.handling.mode=bytes), which JsonConverter prints as base64.
    [Fact]
    public void Bytea()
    {
        AssertField("""{"type":"bytes","optional":true,"field":"c"}""", "\"AP8=\"", Column("c", 17), "\\x00ff");
        AssertJson("\"\"", Single(Column("c", 17), "\\x"));
        AssertJson("\"X19kZWJleml1bV91bmF2YWlsYWJsZV92YWx1ZQ==\"", Single(Column("c", 17), Toast));
    }

    // Arrays map to ARRAY of the element's mapping, elements optional.
    [Fact]
    public void Arrays()
    {
        AssertField("""{"type":"array","items":{"type":"int32","optional":true},"optional":true,"field":"c"}""",
            "[1,null,3]", Column("c", 1007), "{1,NULL,3}");
        AssertJson("""["a,b","NULL",null," s "]""", Single(Column("c", 1009), "{\"a,b\",\"NULL\",NULL,\" s \"}"));
        AssertField("""{"type":"array","items":{"type":"int32","optional":true,"name":"io.debezium.time.Date","version":1},"optional":true,"field":"c"}""",
            "[17702,null]", Column("c", 1182), "{2018-06-20,NULL}");
        AssertJson("""[{"scale":1,"value":"Dw=="}]""", Single(Column("c", 1231), "{1.50}"));
        AssertJson("[[1,2],[3,4]]", Single(Column("c", 1007), "{{1,2},{3,4}}"));
        AssertJson("""["__debezium_unavailable_value"]""", Single(Column("c", 1009), Toast));
    }

    // Basic types: BOOLEAN and BIT(1) as BOOLEAN; BIT(n>1) and BIT VARYING as io.debezium.data.Bits,
    // little-endian bytes sized by the highest set bit, with the declared length as parameter.
    [Fact]
    public void BoolAndBits()
    {
        AssertField("""{"type":"boolean","optional":true,"field":"c"}""", "true", Column("c", 16), "t");
        AssertJson("false", Single(Column("c", 16), "f"));
        AssertField("""{"type":"boolean","optional":true,"field":"c"}""", "true", Column("c", 1560, 1), "1");
        AssertField("""{"type":"bytes","optional":true,"name":"io.debezium.data.Bits","version":1,"parameters":{"length":"3"},"field":"c"}""",
            "\"BQ==\"", Column("c", 1560, 3), "101");
        AssertJson("\"AAE=\"", Single(Column("c", 1562, 16), "0000000100000000"));
        AssertField("""{"type":"bytes","optional":true,"name":"io.debezium.data.Bits","version":1,"parameters":{"length":"2147483647"},"field":"c"}""",
            "\"\"", Column("c", 1562), "000");
    }

    // Basic types: POINT as io.debezium.data.geometry.Point {x, y, wkb, srid}; wkb is 01 | type 1 | x | y, little-endian.
    [Fact]
    public void GeometricPoint()
    {
        AssertField("""
            {"type":"struct","fields":[{"type":"double","optional":false,"field":"x"},{"type":"double","optional":false,"field":"y"},
                {"type":"bytes","optional":true,"field":"wkb"},{"type":"int32","optional":true,"field":"srid"}],
             "optional":true,"name":"io.debezium.data.geometry.Point","version":1,"doc":"Geometry (POINT)","field":"c"}
            """, """{"x":1.5,"y":2,"wkb":"AQEAAAAAAAAAAAD4PwAAAAAAAABA","srid":null}""", Column("c", 600), "(1.5,2)");

        // PostgreSQL accepts non-finite coordinates: strings, as for float columns; the WKB holds the IEEE values.
        AssertJson("""{"x":"Infinity","y":"-Infinity","wkb":"AQEAAAAAAAAAAADwfwAAAAAAAPD/","srid":null}""", Single(Column("c", 600), "(Infinity,-Infinity)"));
        AssertJson("""[{"x":"NaN","y":0,"wkb":"AQEAAAAAAAAAAAD4fwAAAAAAAAAA","srid":null}]""", Single(Column("c", 1017), "{\"(NaN,0)\"}"));
    }

    // Network address types, and range types: STRING as PostgreSQL prints them.
    [Fact]
    public void Network()
    {
        AssertField("""{"type":"string","optional":true,"field":"c"}""", "\"192.168.0.1/24\"", Column("c", 869), "192.168.0.1/24");
        AssertJson("\"10.0.0.0/8\"", Single(Column("c", 650), "10.0.0.0/8"));
        AssertJson("\"08:00:2b:01:02:03\"", Single(Column("c", 829), "08:00:2b:01:02:03"));
        AssertJson("\"[1,5)\"", Single(Column("c", 3904), "[1,5)"));
    }

    // Basic types: ENUM as io.debezium.data.Enum with the labels in enumsortorder as the allowed parameter.
    [Fact]
    public void Enum()
    {
        var mood = new PgType(16_600, "mood", PgTypeKind.String, schema: "public");
        var moods = new PgType(16_601, "_mood", PgTypeKind.Array, mood);
        var options = Options with { EnumLabels = new Dictionary<uint, IReadOnlyList<string>> { [16_600] = ["sad", "ok", "happy"] } };
        AssertField("""{"type":"string","optional":true,"name":"io.debezium.data.Enum","version":1,"parameters":{"allowed":"sad,ok,happy"},"field":"c"}""",
            "\"ok\"", Column("c", mood), "ok", options);
        AssertJson("""["ok","sad"]""", Single(Column("c", moods), "{ok,sad}", options));
        AssertField("""{"type":"string","optional":true,"field":"c"}""", "\"ok\"", Column("c", mood), "ok");
    }
}
