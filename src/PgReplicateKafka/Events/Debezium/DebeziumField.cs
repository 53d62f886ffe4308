using PgReplicateKafka.Events.Values;

namespace PgReplicateKafka.Events.Debezium;

/// <summary>How <see cref="DebeziumValueWriter"/> converts a column's text.</summary>
internal enum DebeziumKind : byte
{
    Boolean,

    /// <summary>int2, int4, int8, oid: the text is already a JSON number.</summary>
    Integer,
    Float,
    String,

    /// <summary>hstore as a JSON document in a string (hstore.handling.mode=json).</summary>
    Hstore,
    Bytes,

    /// <summary>bit(1) and varbit(1) as a boolean.</summary>
    Bit,

    /// <summary>bit(n) and varbit as io.debezium.data.Bits: little-endian bytes of the bits that are set.</summary>
    Bits,
    Decimal,
    VariableScaleDecimal,
    DecimalString,
    DecimalDouble,
    Money,
    MoneyString,
    MoneyDouble,
    Date,
    TimeMillis,
    TimeMicros,
    TimestampMillis,
    TimestampMicros,
    ZonedTimestamp,
    ZonedTime,
    MicroDuration,
    Point,
    Array,
}

/// <summary>A column's Debezium mapping: payload converter plus its Kafka Connect schema.</summary>
internal sealed class DebeziumField
{
    private DebeziumField(DebeziumKind kind, string connectType, string? name = null, int? version = null)
    {
        Kind = kind;
        ConnectType = connectType;
        Name = name;
        Version = version;
    }

    /// <summary>A masked column: a plain string.</summary>
    public static readonly DebeziumField MaskedString = new(DebeziumKind.String, "string");

    public DebeziumKind Kind { get; }

    /// <summary>Kafka Connect schema type as JsonConverter names it (int32, double, struct, ...).</summary>
    public string ConnectType { get; }

    /// <summary>Logical (semantic) schema name, e.g. io.debezium.time.MicroTimestamp.</summary>
    public string? Name { get; }

    public int? Version { get; }

    public IReadOnlyList<KeyValuePair<string, string>> Parameters { get; private init; } = [];

    public DebeziumField? Element { get; private init; }

    /// <summary>For arrays, the byte separating elements in the array literal.</summary>
    public byte Delimiter { get; private init; }

    /// <summary>Fraction digits of a <see cref="DebeziumKind.ZonedTimestamp"/> (0: as few as needed).</summary>
    public int Scale { get; private init; }

    public static DebeziumField Resolve(PgType type, int typeModifier, DebeziumOptions options)
    {
        if (type.Kind == PgTypeKind.Array)
        {
            // Debezium gives array elements the array column's modifier (precision, scale, length).
            return new DebeziumField(DebeziumKind.Array, "array")
            {
                Element = Resolve(type.Element!, typeModifier, options),
                Delimiter = type.Delimiter,
            };
        }

        if (options.EnumLabels is { } enums && enums.TryGetValue(type.Oid, out var labels))
        {
            return new DebeziumField(DebeziumKind.String, "string", "io.debezium.data.Enum", 1)
            {
                Parameters = [new("allowed", string.Join(',', labels))],
            };
        }

        var connect = options.TimePrecision == TimePrecision.Connect;
        switch (type.Oid)
        {
            case 16:
                return new(DebeziumKind.Boolean, "boolean");
            case 21:
                return new(DebeziumKind.Integer, "int16");
            case 23:
                return new(DebeziumKind.Integer, "int32");
            case 20 or 26:
                return new(DebeziumKind.Integer, "int64");
            case 700:
                return new(DebeziumKind.Float, "float");
            case 701:
                return new(DebeziumKind.Float, "double");
            case 1700:
                return Numeric(typeModifier, options.DecimalHandling);
            case 790:
                return options.DecimalHandling switch
                {
                    DecimalHandling.String => new(DebeziumKind.MoneyString, "string"),
                    DecimalHandling.Double => new(DebeziumKind.MoneyDouble, "double"),
                    // Debezium's money.fraction.digits default; lc_monetary=C prints two digits too.
                    _ => new(DebeziumKind.Money, "bytes", "org.apache.kafka.connect.data.Decimal", 1) { Parameters = [new("scale", "2")] },
                };
            case 1082:
                return connect
                    ? new(DebeziumKind.Date, "int32", "org.apache.kafka.connect.data.Date", 1)
                    : new(DebeziumKind.Date, "int32", "io.debezium.time.Date", 1);
            case 1083:
                return connect
                    ? new(DebeziumKind.TimeMillis, "int32", "org.apache.kafka.connect.data.Time", 1)
                    : TimePrecisionOf(typeModifier) <= 3
                        ? new(DebeziumKind.TimeMillis, "int32", "io.debezium.time.Time", 1)
                        : new(DebeziumKind.TimeMicros, "int64", "io.debezium.time.MicroTime", 1);
            case 1114:
                return connect
                    ? new(DebeziumKind.TimestampMillis, "int64", "org.apache.kafka.connect.data.Timestamp", 1)
                    : Timestamp(typeModifier);
            case 1184:
                return ZonedTimestamp(typeModifier);
            case 1266:
                return new(DebeziumKind.ZonedTime, "string", "io.debezium.time.ZonedTime", 1);
            case 1186:
                return new(DebeziumKind.MicroDuration, "int64", "io.debezium.time.MicroDuration", 1);
            case 17:
                return new(DebeziumKind.Bytes, "bytes");
            case 2950:
                return new(DebeziumKind.String, "string", "io.debezium.data.Uuid", 1);
            case 114 or 3802:
                return new(DebeziumKind.String, "string", "io.debezium.data.Json", 1);
            case 142:
                return new(DebeziumKind.String, "string", "io.debezium.data.Xml", 1);
            case 3614:
                return new(DebeziumKind.String, "string", "io.debezium.data.Tsvector", 1);
            case 1560 or 1562:
                return Bits(type.Oid, typeModifier);
            case 600:
                return new(DebeziumKind.Point, "struct", "io.debezium.data.geometry.Point", 1);
        }

        // Domains and extension types: the domain keeps its own OID but prints as its base type.
        return type.Kind switch
        {
            PgTypeKind.Bool => new(DebeziumKind.Boolean, "boolean"),
            PgTypeKind.Integer => new(DebeziumKind.Integer, "int64"),
            PgTypeKind.Float => new(DebeziumKind.Float, "double"),
            PgTypeKind.Numeric => Numeric(typeModifier, options.DecimalHandling),
            PgTypeKind.Json => new(DebeziumKind.String, "string", "io.debezium.data.Json", 1),
            PgTypeKind.Bytea => new(DebeziumKind.Bytes, "bytes"),
            PgTypeKind.Timestamp => connect
                ? new(DebeziumKind.TimestampMillis, "int64", "org.apache.kafka.connect.data.Timestamp", 1)
                : Timestamp(typeModifier),
            PgTypeKind.TimestampTz => ZonedTimestamp(typeModifier),
            PgTypeKind.TimeTz => new(DebeziumKind.ZonedTime, "string", "io.debezium.time.ZonedTime", 1),
            PgTypeKind.Hstore => new(DebeziumKind.Hstore, "string", "io.debezium.data.Json", 1),
            _ when type.Name == "ltree" => new(DebeziumKind.String, "string", "io.debezium.data.Ltree", 1),
            _ => new(DebeziumKind.String, "string"),
        };
    }

    private static DebeziumField Numeric(int typeModifier, DecimalHandling handling)
    {
        // numeric(p,s) stores ((p << 16) | (s & 0x7FF)) + 4, s as 11-bit two's complement (PostgreSQL 15 allows -1000..1000);
        // plain numeric has no modifier and no fixed scale.
        var precision = typeModifier < 0 ? 0 : ((typeModifier - 4) >> 16) & 0xFFFF;
        var scale = typeModifier < 0 ? 0 : (((typeModifier - 4) & 0x7FF) ^ 0x400) - 0x400;
        if (scale < 0)
        {
            // A negative scale rounds to tens, hundreds, …: numeric_out prints that integer, the unscaled value at scale 0, -s digits longer.
            precision -= scale;
            scale = 0;
        }

        return handling switch
        {
            DecimalHandling.String => new(DebeziumKind.DecimalString, "string"),
            DecimalHandling.Double => new(DebeziumKind.DecimalDouble, "double"),
            _ when typeModifier < 0 => new(DebeziumKind.VariableScaleDecimal, "struct", "io.debezium.data.VariableScaleDecimal", 1),
            // numeric_out prints exactly the column's scale, so the digits are the unscaled value as they stand.
            _ => new(DebeziumKind.Decimal, "bytes", "org.apache.kafka.connect.data.Decimal", 1)
            {
                Parameters = [new("scale", scale.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                    new("connect.decimal.precision", precision.ToString(System.Globalization.CultureInfo.InvariantCulture))],
            },
        };
    }

    // time, timestamp, timestamptz and timetz store the fractional digits; without a modifier PostgreSQL keeps 6.
    private static int TimePrecisionOf(int typeModifier) => typeModifier < 0 ? 6 : typeModifier;

    private static DebeziumField Timestamp(int typeModifier) => TimePrecisionOf(typeModifier) <= 3
        ? new(DebeziumKind.TimestampMillis, "int64", "io.debezium.time.Timestamp", 1)
        : new(DebeziumKind.TimestampMicros, "int64", "io.debezium.time.MicroTimestamp", 1);

    // Debezium prints exactly the column's fractional digits, except precision 0, which prints as few as needed.
    private static DebeziumField ZonedTimestamp(int typeModifier) =>
        new(DebeziumKind.ZonedTimestamp, "string", "io.debezium.time.ZonedTimestamp", 1) { Scale = TimePrecisionOf(typeModifier) };

    private static DebeziumField Bits(uint oid, int typeModifier)
    {
        // varbit without a length is unbounded; Debezium reports 2^31-1 bits.
        var length = typeModifier >= 0 ? typeModifier : oid == 1562 ? int.MaxValue : 1;
        return length <= 1
            ? new(DebeziumKind.Bit, "boolean")
            : new(DebeziumKind.Bits, "bytes", "io.debezium.data.Bits", 1)
            {
                Parameters = [new("length", length.ToString(System.Globalization.CultureInfo.InvariantCulture))],
            };
    }
}
